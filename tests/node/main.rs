//! The operator as users run it: its image on a real node (containerd and a kubelet from
//! `testenv`'s node tier), installed with `helm install` and `kubectl apply -k` into namespaces
//! that enforce the "restricted" Pod Security Standard, talking to the apiserver through its
//! in-cluster configuration and mounted token and to an authentik simulator over the pod
//! network. Also: two replicas and the Lease, a rolling `helm upgrade`, `kubectl logs`, and
//! the kubelet's SIGTERM.
//!
//! Needs root and what `tests/run.sh` installs; the first test starts the shared cluster and
//! builds the image (`tests/node/operator-image.sh`).

mod chart;
mod helpers;
mod image;
mod kustomize;
