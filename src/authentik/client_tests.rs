use super::*;

/// The error `classify` makes of a response it refuses.
fn refused(method: &Method, status: StatusCode, body: &str, retry: Option<Duration>) -> Error {
    match classify(method, status, body, retry) {
        Err(e) => e,
        Ok(_) => panic!("{method} answered {status} was taken as a success"),
    }
}

#[test]
fn base_url_forms() {
    assert_eq!(api_base("http://ak:9000"), "http://ak:9000/api/v3/");
    assert_eq!(api_base("http://ak:9000/"), "http://ak:9000/api/v3/");
    assert_eq!(api_base("http://ak:9000/api/v3"), "http://ak:9000/api/v3/");
    assert_eq!(api_base("http://ak:9000/api/v3/"), "http://ak:9000/api/v3/");
}

#[test]
fn token_is_redacted() {
    let t = Token::new("s3cr3t-value");
    assert!(!format!("{t:?}").contains("s3cr3t"));
    let cfg = ClientConfig::new("http://x", t);
    assert!(!format!("{cfg:?}").contains("s3cr3t"));
}

#[test]
fn empty_405_on_a_write_is_a_server_error() {
    let e = refused(&Method::POST, StatusCode::METHOD_NOT_ALLOWED, "", None);
    assert!(matches!(e, Error::Server { status: 405, .. }));
    let real = refused(
        &Method::POST,
        StatusCode::METHOD_NOT_ALLOWED,
        r#"{"detail":"Method \"POST\" not allowed."}"#,
        None,
    );
    assert!(matches!(real, Error::Protocol(_)));
}

#[test]
fn statuses_map_to_errors() {
    let e = refused(
        &Method::GET,
        StatusCode::FORBIDDEN,
        r#"{"detail":"Token invalid/expired"}"#,
        None,
    );
    assert!(matches!(&e, Error::Forbidden(m) if m == "Token invalid/expired"));
    let e = refused(
        &Method::GET,
        StatusCode::SERVICE_UNAVAILABLE,
        "",
        Some(Duration::from_secs(5)),
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
    let e = refused(
        &Method::POST,
        StatusCode::BAD_REQUEST,
        r#"{"name":["stage with this name already exists."]}"#,
        None,
    );
    assert!(matches!(e, Error::NameTaken(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "authentik rejected the stage: name: stage with this name already exists."
    );
    let e = refused(
        &Method::POST,
        StatusCode::BAD_REQUEST,
        r#"{"name":["This field may not be blank."]}"#,
        None,
    );
    assert!(matches!(e, Error::Rejected(_)), "{e:?}");
}

#[test]
fn a_token_refused_the_event_log_alone_is_no_outage() {
    use crate::authentik::health::Seen;
    let refused: Result<()> = Err(Error::Forbidden("no permission".into()));
    assert_eq!(seen("events/events/", &refused), Seen::Answered);
    assert_eq!(seen("stages/password/", &refused), Seen::Failing);
    let down: Result<()> = Err(Error::Unreachable("refused".into()));
    assert_eq!(seen("events/events/", &down), Seen::Failing);
    assert_eq!(seen("stages/password/", &Ok(())), Seen::Answered);
}
