//! docs/reference/rest.md, generated from the OpenAPI document the server serves.

use super::generated_block;
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_rest_reference_is_generated_from_the_served_openapi_document() {
    let app = spawn_app().await;
    let reply = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    let document: serde_json::Value = reply.json().await.unwrap();
    let page = api::rest::openapi::reference_markdown(&document).unwrap();
    // Every operation and every schema of the document has its section.
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let heading = format!("### `{} {path}`", method.to_uppercase());
            assert!(page.contains(&heading), "the reference lacks {heading}");
        }
    }
    for name in document["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
    {
        assert!(
            page.contains(&format!("### {name}\n")),
            "the reference lacks the schema {name}"
        );
    }
    // The errors every operation may answer are listed once, not under each operation.
    assert_eq!(
        page.matches("Over the rate limit; `Retry-After` says when to retry.")
            .count(),
        1,
        "{page}"
    );
    generated_block("docs/reference/rest.md", "operations", &page);
}
