//! The Rust floor: a lambda_runtime function that answers every event with the same HTTP
//! response. Nothing a WSGI runtime can do per invocation is cheaper than this; bench/run.py
//! subtracts it (with the app's in-process cost) from lambda-wsgi's mean.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let response = json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": "{\"ok\":true}",
        "isBase64Encoded": false,
    });
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let response = response.clone();
        async move { Ok::<Value, Error>(response) }
    }))
    .await
}
