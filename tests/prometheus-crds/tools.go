//go:build tools

// Package tools pins what this module builds: controller-gen, and the prometheus-operator API
// types it turns into CustomResourceDefinitions.
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
