//! Who is calling: the identity an AWS front door vouches for, which becomes REMOTE_USER.
//!
//! Only fields AWS fills in after authenticating the caller are read: the authorizer's output
//! and the IAM caller. Never a header: a client can send any header (`Remote-User`,
//! `X-Forwarded-User`, `x-amzn-oidc-identity` straight to an ALB target), so a header only ever
//! becomes `HTTP_*`. An empty string means "no identity" (a Function URL with AuthType NONE
//! sends every IAM field as `""`). The rule, first match wins, is the README's table:
//!
//! `requestContext.authorizer` (REST, HTTP API 1.0 and 2.0, Function URL):
//! 1. `principalId`: a Lambda authorizer's principal (REST; what serverless-wsgi and Zappa read);
//! 2. `claims` (REST Cognito user pool authorizer, HTTP API 1.0 JWT) or `jwt.claims` (HTTP API
//!    2.0 JWT): `cognito:username` (Cognito ID tokens), `username` (Cognito access tokens), `sub`;
//! 3. `lambda.principalId`: an HTTP API Lambda authorizer's context has no principal field of
//!    its own; a `principalId` key the authorizer put there is taken (Zappa does the same);
//! 4. `iam` (HTTP API and Function URL IAM auth): `cognitoIdentity.identityId` (callers with
//!    Cognito identity pool credentials share one role, so the ARN would not tell them apart),
//!    then `userArn`, then `userId`.
//!
//! Then, REST and HTTP API 1.0 only, `requestContext.identity` (AWS_IAM authorization):
//! `cognitoIdentityId`, then `userArn` (Zappa's fallback; `user` is not read: AWS sends it with
//! `userArn`, and an API Gateway console test sends it alone, naming the console's account).
//!
//! VPC Lattice v2: `requestContext.identity.principal` (IAM auth policy). ALB and Lattice v1
//! carry no authenticated identity in the event.

use serde::Deserialize;
use serde_json::Value;

/// REST's (and HTTP API 1.0's) `requestContext.identity`: the fields REMOTE_ADDR and REMOTE_USER
/// come from, typed (it is in every such event; the rest of it is skipped unread).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RestIdentity {
    #[serde(default)]
    pub(super) source_ip: Option<String>,
    #[serde(default)]
    cognito_identity_id: Option<String>,
    #[serde(default)]
    user_arn: Option<String>,
}

/// REMOTE_USER from an `authorizer` object, as the rule above says.
pub(super) fn from_authorizer(authorizer: Option<&Value>) -> Option<String> {
    let authorizer = authorizer?;
    text(authorizer, &["principalId"])
        .or_else(|| from_claims(authorizer.get("claims")))
        .or_else(|| from_claims(authorizer.get("jwt").and_then(|jwt| jwt.get("claims"))))
        .or_else(|| text(authorizer, &["lambda", "principalId"]))
        .or_else(|| {
            let iam = authorizer.get("iam")?;
            text(iam, &["cognitoIdentity", "identityId"])
                .or_else(|| text(iam, &["userArn"]))
                .or_else(|| text(iam, &["userId"]))
        })
}

/// REMOTE_USER from REST's (and HTTP API 1.0's) `requestContext.identity`.
pub(super) fn from_rest_identity(identity: &RestIdentity) -> Option<String> {
    let non_empty = |field: &Option<String>| field.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    non_empty(&identity.cognito_identity_id).or_else(|| non_empty(&identity.user_arn))
}

/// REMOTE_USER from VPC Lattice v2's `requestContext.identity`.
pub(super) fn from_lattice_identity(identity: Option<&Value>) -> Option<String> {
    text(identity?, &["principal"])
}

fn from_claims(claims: Option<&Value>) -> Option<String> {
    let claims = claims?;
    text(claims, &["cognito:username"])
        .or_else(|| text(claims, &["username"]))
        .or_else(|| text(claims, &["sub"]))
}

/// The non-empty string at `path`; anything else (absent, null, a number, an object) is none.
fn text(value: &Value, path: &[&str]) -> Option<String> {
    let mut value = value;
    for key in path {
        value = value.get(key)?;
    }
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn authorizer(value: Value) -> Option<String> {
        from_authorizer(Some(&value))
    }

    #[test]
    fn each_authorizer_shape_names_its_principal() {
        assert_eq!(
            authorizer(json!({"principalId": "admin", "clientId": 1})),
            Some("admin".into())
        );
        let claims = json!({"sub": "uuid-1", "cognito:username": "alice", "username": "alice-access"});
        assert_eq!(authorizer(json!({ "claims": claims })), Some("alice".into()));
        assert_eq!(
            authorizer(json!({"claims": {"sub": "uuid-1", "username": "bob"}})),
            Some("bob".into())
        );
        assert_eq!(
            authorizer(json!({"jwt": {"claims": {"sub": "uuid-2"}, "scopes": null}})),
            Some("uuid-2".into())
        );
        assert_eq!(
            authorizer(json!({"lambda": {"principalId": "carol", "tier": "gold"}})),
            Some("carol".into())
        );
        assert_eq!(authorizer(json!({"lambda": {"tier": "gold"}})), None);
        assert_eq!(
            authorizer(json!({"iam": {"userArn": "arn:aws:iam::1:user/dave", "userId": "AIDA1"}})),
            Some("arn:aws:iam::1:user/dave".into())
        );
        assert_eq!(
            authorizer(json!({"iam": {"cognitoIdentity": {"identityId": "us-east-1:abc"}, "userArn": "arn:role"}})),
            Some("us-east-1:abc".into())
        );
    }

    #[test]
    fn empty_null_and_odd_values_are_no_identity() {
        // A Function URL with AuthType NONE (live capture): every IAM field is "".
        let none = json!({"jwt": {"claims": null, "scopes": null}, "iam": {"accessKey": "", "cognitoIdentity":
            {"amr": null, "identityId": "", "identityPoolId": ""}, "userArn": "", "userId": ""}});
        assert_eq!(authorizer(none), None);
        assert_eq!(authorizer(json!({"principalId": ""})), None);
        assert_eq!(authorizer(json!({"principalId": 7})), None);
        assert_eq!(authorizer(json!({"claims": "x"})), None);
        assert_eq!(authorizer(json!("x")), None);
        assert_eq!(authorizer(json!([1])), None);
        assert_eq!(from_authorizer(None), None);
        assert_eq!(from_authorizer(Some(&Value::Null)), None);
    }

    #[test]
    fn an_empty_principal_falls_through_to_the_next_field() {
        assert_eq!(
            authorizer(json!({"principalId": "", "claims": {"sub": "s"}})),
            Some("s".into())
        );
    }

    #[test]
    fn rest_iam_identity_and_lattice_principal() {
        let rest = |value: Value| from_rest_identity(&serde_json::from_value(value).expect("an identity"));
        let identity = json!({"cognitoIdentityId": null, "userArn": "arn:aws:iam::1:user/erin", "user": "AIDA2"});
        assert_eq!(rest(identity), Some("arn:aws:iam::1:user/erin".into()));
        let identity = json!({"cognitoIdentityId": "", "userArn": "", "user": "123456789012"});
        assert_eq!(rest(identity), None);
        let identity = json!({"cognitoIdentityId": "us-east-1:id", "userArn": "arn:role"});
        assert_eq!(rest(identity), Some("us-east-1:id".into()));
        assert_eq!(rest(json!({"sourceIp": "1.2.3.4", "userArn": ""})), None);
        assert_eq!(
            from_lattice_identity(Some(
                &json!({"type": "AWS_IAM", "principal": "arn:aws:sts::1:assumed-role/r/s"})
            )),
            Some("arn:aws:sts::1:assumed-role/r/s".into())
        );
        assert_eq!(from_lattice_identity(Some(&json!({"sourceVpcArn": "arn:vpc"}))), None);
    }
}
