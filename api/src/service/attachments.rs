//! Message attachments (screenshots): PNG, JPEG or WebP, known by their first bytes whatever the name or the
//! declared type says, within a size and a per-message count; kept through `object_store` (a folder of the data
//! directory, or S3-compatible storage), shown through short-lived signed URLs, and claimed by the message they
//! go with.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use entities::{conversation, message_attachment};
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::db::{Db, WriteTxn};
use crate::error::{ApiError, ApiResult};
use crate::ids::{Kind, new_id};
use crate::secrets::Sealer;
use crate::service::now;

/// Where the upload came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A visitor in the website widget.
    Widget,
    /// A caller of REST v1 or GraphQL (a member, an API key: the visitor API).
    Api,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Widget => "widget",
            Source::Api => "api",
        }
    }
}

/// The image types taken: PNG, JPEG and WebP, recognised by their signatures.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        _ => "webp",
    }
}

/// An attachment as the API shows it: what it is and a signed URL that works until `url_expires_at`.
#[derive(Clone, Debug)]
pub struct Shown {
    pub model: message_attachment::Model,
    pub url: String,
    pub url_expires_at: DateTime<Utc>,
}

/// The attachments' store, its limits and the signer of their URLs.
pub struct Attachments {
    store: Arc<dyn ObjectStore>,
    /// Where the store is, in words, for logs and errors.
    pub described: String,
    sealer: Arc<Sealer>,
    public_url: Arc<str>,
    pub max_bytes: usize,
    pub max_count: usize,
    url_secs: u64,
}

impl std::fmt::Debug for Attachments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachments")
            .field("store", &self.described)
            .finish_non_exhaustive()
    }
}

impl Attachments {
    /// The store `attachment_store` names: the data directory's `attachments` folder when unset, or
    /// `s3://bucket/prefix` with the `s3_*` settings.
    pub fn from_settings(
        settings: &Settings,
        sealer: Arc<Sealer>,
        public_url: Arc<str>,
    ) -> anyhow::Result<Self> {
        let (store, described): (Arc<dyn ObjectStore>, String) = match settings
            .attachment_store
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => {
                let folder = settings.data_dir.join("attachments");
                std::fs::create_dir_all(&folder).map_err(|e| {
                    anyhow::anyhow!(
                        "the attachments folder {} cannot be made ({e}): check CONCIERGE_DATA_DIR",
                        folder.display()
                    )
                })?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(&folder)?;
                (Arc::new(store), format!("folder {}", folder.display()))
            }
            Some(url) => {
                let rest = url.strip_prefix("s3://").ok_or_else(|| {
                    anyhow::anyhow!(
                        "CONCIERGE_ATTACHMENT_STORE must be unset (the data folder) or s3://bucket/prefix, not {url}"
                    )
                })?;
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                anyhow::ensure!(
                    !bucket.is_empty(),
                    "CONCIERGE_ATTACHMENT_STORE names no bucket: {url}"
                );
                // A request waits on the store: a couple of quick retries, then a clear error.
                let retry = object_store::RetryConfig {
                    max_retries: 2,
                    retry_timeout: std::time::Duration::from_secs(5),
                    ..Default::default()
                };
                let client = object_store::ClientOptions::new()
                    .with_timeout(std::time::Duration::from_secs(15))
                    .with_connect_timeout(std::time::Duration::from_secs(3));
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(&settings.s3_region)
                    .with_retry(retry)
                    .with_client_options(client);
                if let Some(endpoint) = &settings.s3_endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let Some(id) = &settings.s3_access_key_id {
                    builder = builder.with_access_key_id(id);
                }
                if let Some(secret) = &settings.s3_secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose_secret());
                }
                let s3: Arc<dyn ObjectStore> = Arc::new(builder.build()?);
                let store: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
                    s3
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(
                        s3,
                        prefix.trim_matches('/'),
                    ))
                };
                (store, url.to_owned())
            }
        };
        Ok(Self {
            store,
            described,
            sealer,
            public_url,
            max_bytes: settings.attachment_max_bytes,
            max_count: settings.attachment_max_count,
            url_secs: settings.attachment_url_secs.max(1),
        })
    }

    /// Keeps an uploaded image for `conversation`, not yet on a message: checked (not empty, within the size,
    /// an image by its bytes), stored, then written down.
    pub async fn upload(
        &self,
        db: &Db,
        conversation: &conversation::Model,
        source: Source,
        bytes: Bytes,
    ) -> ApiResult<message_attachment::Model> {
        if bytes.is_empty() {
            return Err(ApiError::validation(
                "body",
                "is empty: send the image's bytes",
            ));
        }
        if bytes.len() > self.max_bytes {
            return Err(ApiError::PayloadTooLarge(format!(
                "the image is {} bytes; the limit is {} bytes",
                bytes.len(),
                self.max_bytes
            )));
        }
        let Some(content_type) = sniff(&bytes) else {
            return Err(ApiError::UnsupportedMediaType(
                "the body is not a PNG, JPEG or WebP image (judged by its bytes, whatever its name or type says)"
                    .to_owned(),
            ));
        };
        let id = new_id(Kind::Attachment);
        let key = format!(
            "{}/{}/{id}.{}",
            conversation.organization_id,
            conversation.id,
            extension(content_type)
        );
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size = i64::try_from(bytes.len()).map_err(ApiError::internal)?;
        self.store
            .put(&StorePath::from(key.as_str()), bytes.into())
            .await
            .map_err(|err| self.unavailable(&err))?;
        let row = message_attachment::ActiveModel {
            id: Set(id),
            organization_id: Set(conversation.organization_id.clone()),
            conversation_id: Set(conversation.id.clone()),
            message_id: Set(None),
            uploaded_by: Set(source.as_str().to_owned()),
            content_type: Set(content_type.to_owned()),
            byte_size: Set(size),
            sha256: Set(sha256),
            storage_key: Set(key.clone()),
            created_at: Set(now()),
        };
        let txn = db.begin_write().await?;
        let inserted = message_attachment::Entity::insert(row)
            .exec_with_returning(&*txn)
            .await;
        match inserted {
            Ok(model) => {
                txn.commit().await?;
                Ok(model)
            }
            Err(err) => {
                drop(txn);
                // The bytes go too, so that nothing is kept that no row names.
                let _ = self.store.delete(&StorePath::from(key.as_str())).await;
                Err(err.into())
            }
        }
    }

    /// An upload through REST v1 (a member, or an API key acting for the visitor): the caller may write
    /// messages in the conversation, which is not closed.
    pub async fn upload_as(
        &self,
        db: &Db,
        principal: &crate::auth::Principal,
        conversation_id: &str,
        bytes: Bytes,
    ) -> ApiResult<message_attachment::Model> {
        use crate::authz::{Action, Resource, authorize};
        let grant = authorize(principal, Resource::Message, Action::Write).await?;
        let conversation = crate::service::conversations::find(
            db.conn(),
            grant.organization_id(),
            conversation_id,
        )
        .await?;
        open_for_messages(&conversation)?;
        self.upload(db, &conversation, Source::Api, bytes).await
    }

    fn unavailable(&self, err: &object_store::Error) -> ApiError {
        tracing::warn!(error = %err, store = %self.described, "the attachment store failed");
        ApiError::BadGateway(format!(
            "the attachment store ({}) could not be reached; try again",
            self.described
        ))
    }

    /// The bytes of an attachment.
    pub async fn bytes(&self, model: &message_attachment::Model) -> ApiResult<Bytes> {
        let path = StorePath::from(model.storage_key.as_str());
        let got = self
            .store
            .get(&path)
            .await
            .map_err(|err| self.unavailable(&err))?;
        got.bytes().await.map_err(|err| self.unavailable(&err))
    }

    /// The attachment with its URL signed for `secs` seconds from now.
    pub fn shown_for(&self, model: message_attachment::Model, secs: u64) -> Shown {
        let (url, url_expires_at) = self.signed_url(&model.id, secs);
        Shown {
            url,
            url_expires_at,
            model,
        }
    }

    /// A URL of attachment `id` signed for `secs` seconds from now, and when it expires.
    pub fn signed_url(&self, id: &str, secs: u64) -> (String, DateTime<Utc>) {
        let expires = Utc::now() + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(300));
        let stamp = expires.timestamp();
        let signature = self.sealer.sign_url(&format!("{id}:{stamp}"));
        (
            format!(
                "{}/attachments/{id}?expires={stamp}&signature={signature}",
                self.public_url.trim_end_matches('/'),
            ),
            expires,
        )
    }

    /// The configured lifetime of a signed URL, in seconds.
    pub fn url_secs(&self) -> u64 {
        self.url_secs
    }

    /// The attachment with a URL that works for the configured few minutes.
    pub fn shown(&self, model: message_attachment::Model) -> Shown {
        self.shown_for(model, self.url_secs)
    }

    /// Whether a URL's expiry and signature hold for `id` (and it has not expired).
    pub fn url_holds(&self, id: &str, expires: i64, signature: &str) -> bool {
        expires >= Utc::now().timestamp()
            && self
                .sealer
                .url_signature_holds(&format!("{id}:{expires}"), signature)
    }

    /// Deletes uploads no message claimed within a day, bytes first; answers how many.
    pub async fn prune_unclaimed(&self, db: &Db) -> ApiResult<u64> {
        let before = now() - chrono::Duration::hours(24);
        let stale = message_attachment::Entity::find()
            .filter(message_attachment::Column::MessageId.is_null())
            .filter(message_attachment::Column::CreatedAt.lt(before))
            .all(db.conn())
            .await?;
        let mut deleted = 0;
        for model in stale {
            match self
                .store
                .delete(&StorePath::from(model.storage_key.as_str()))
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(self.unavailable(&err)),
            }
            let txn = db.begin_write().await?;
            message_attachment::Entity::delete_by_id(model.id)
                .exec(&*txn)
                .await?;
            txn.commit().await?;
            deleted += 1;
        }
        Ok(deleted)
    }
}

/// Refuses an upload to a closed conversation (no message can carry it there).
pub(crate) fn open_for_messages(conversation: &conversation::Model) -> ApiResult<()> {
    use crate::service::conversations::{Status, status};
    if status(conversation)? == Status::Closed {
        return Err(ApiError::Conflict(format!(
            "conversation {} is closed; reopen it before adding messages",
            conversation.id
        )));
    }
    Ok(())
}

/// An attachment by id (a signed URL names only the id; its signature is the authority).
pub async fn find(db: &Db, id: &str) -> ApiResult<message_attachment::Model> {
    message_attachment::Entity::find_by_id(id.to_owned())
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("attachment", id))
}

/// Checks the attachment ids a message names: well-formed `file_` ids, none twice, at most `max_count`.
pub fn validate_ids(ids: &[String], max_count: usize) -> ApiResult<Vec<String>> {
    if ids.len() > max_count {
        return Err(ApiError::validation(
            "attachment_ids",
            format!(
                "names {} attachments; a message carries at most {max_count}",
                ids.len()
            ),
        ));
    }
    let mut unique: Vec<String> = Vec::with_capacity(ids.len());
    for (at, id) in ids.iter().enumerate() {
        let id = crate::ids::parse(Kind::Attachment, &format!("attachment_ids[{at}]"), id)?;
        if unique.contains(&id) {
            return Err(ApiError::validation(
                &format!("attachment_ids[{at}]"),
                format!("{id} is named twice"),
            ));
        }
        unique.push(id);
    }
    Ok(unique)
}

/// Gives `ids` (uploads of this conversation that no message has, checked by [`validate_ids`]) to the
/// message, inside its transaction; a validation error names any that is not such an upload.
pub(crate) async fn claim(
    txn: &WriteTxn<'_>,
    conversation: &conversation::Model,
    message_id: &str,
    ids: &[String],
) -> ApiResult<Vec<message_attachment::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let unique: Vec<&String> = ids.iter().collect();
    let found = message_attachment::Entity::find()
        .filter(message_attachment::Column::Id.is_in(unique.iter().map(|s| s.as_str())))
        .filter(message_attachment::Column::ConversationId.eq(&conversation.id))
        .filter(message_attachment::Column::OrganizationId.eq(&conversation.organization_id))
        .filter(message_attachment::Column::MessageId.is_null())
        .all(&**txn)
        .await?;
    if let Some(missing) = unique
        .iter()
        .find(|id| !found.iter().any(|f| &f.id == **id))
    {
        return Err(ApiError::validation(
            "attachment_ids",
            format!("{missing} is not an upload of this conversation that no message has yet"),
        ));
    }
    message_attachment::Entity::update_many()
        .col_expr(
            message_attachment::Column::MessageId,
            sea_orm::sea_query::Expr::value(message_id),
        )
        .filter(message_attachment::Column::Id.is_in(unique.iter().map(|s| s.as_str())))
        .filter(message_attachment::Column::MessageId.is_null())
        .exec(&**txn)
        .await?;
    let mut claimed: Vec<message_attachment::Model> = found
        .into_iter()
        .map(|mut m| {
            m.message_id = Some(message_id.to_owned());
            m
        })
        .collect();
    claimed.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(claimed)
}

/// The attachments of each of these messages, oldest first.
pub async fn of_messages(
    conn: &impl ConnectionTrait,
    message_ids: &[String],
) -> ApiResult<HashMap<String, Vec<message_attachment::Model>>> {
    let mut by_message: HashMap<String, Vec<message_attachment::Model>> = HashMap::new();
    if message_ids.is_empty() {
        return Ok(by_message);
    }
    let rows = message_attachment::Entity::find()
        .filter(message_attachment::Column::MessageId.is_in(message_ids.iter().map(String::as_str)))
        .order_by_asc(message_attachment::Column::Id)
        .all(conn)
        .await?;
    for row in rows {
        if let Some(message) = row.message_id.clone() {
            by_message.entry(message).or_default().push(row);
        }
    }
    Ok(by_message)
}

/// The attachments of each of these messages of the caller's organization (GraphQL's loader).
pub async fn of_messages_for(
    db: &Db,
    principal: &crate::auth::Principal,
    message_ids: &[String],
) -> ApiResult<HashMap<String, Vec<message_attachment::Model>>> {
    use crate::authz::{Action, Resource, authorize};
    let grant = authorize(principal, Resource::Message, Action::Read).await?;
    let mut found = of_messages(db.conn(), message_ids).await?;
    for rows in found.values_mut() {
        rows.retain(|row| row.organization_id == grant.organization_id());
    }
    Ok(found)
}

/// The attachments of a conversation's messages, oldest first (what a help desk gets with the ticket).
pub async fn of_conversation(
    conn: &impl ConnectionTrait,
    conversation_id: &str,
) -> ApiResult<Vec<message_attachment::Model>> {
    Ok(message_attachment::Entity::find()
        .filter(message_attachment::Column::ConversationId.eq(conversation_id))
        .filter(message_attachment::Column::MessageId.is_not_null())
        .order_by_asc(message_attachment::Column::Id)
        .all(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_bytes_not_their_names() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            sniff(b"RIFF\x24\0\0\0WAVEfmt "),
            None,
            "a WAV file is RIFF too"
        );
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }
}
