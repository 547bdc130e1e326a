//! The OAuth side of the executor: codes exchanged, access tokens refreshed once across instances (a row lease
//! taken only while the row is as read), a refusal turned into `REAUTHORIZATION_REQUIRED`, and revocation.

use std::time::Duration as StdDuration;

use chrono::Duration;
use entities::integration;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::events::{names, outbox};
use crate::service::integrations::IntegrationStatus;
use crate::service::integrations::credentials::{Connection, Credentials};
use crate::service::integrations::executor::{Failure, Vendors, retry_after, vendor_message};
use crate::service::now;

/// How long one instance may hold a connection's refresh before another may take it over.
const REFRESH_LEASE: i64 = 30;

/// What a token endpoint answered.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
    /// The provider's `token_metadata` fields found in the answer.
    pub metadata: Map<String, Value>,
}

impl Vendors {
    /// Exchanges an authorization code (with its PKCE verifier) at the token endpoint.
    pub async fn exchange_code(
        &self,
        connection: &Connection,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<Tokens, Failure> {
        let redirect_uri = self.redirect_uri(connection.provider);
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier.to_owned()));
        }
        self.token_request(connection, form).await
    }

    /// A form POST to the provider's token endpoint with the operator's client credentials.
    async fn token_request(
        &self,
        connection: &Connection,
        mut form: Vec<(&'static str, String)>,
    ) -> Result<Tokens, Failure> {
        let provider = connection.provider;
        let (client_id, client_secret) = self.settings.oauth_app(provider.key).ok_or_else(|| {
            Failure::Configuration(format!(
                "the server has no {} OAuth app configured (CONCIERGE_OAUTH_{}_CLIENT_ID and _CLIENT_SECRET)",
                provider.name,
                provider.key.to_ascii_uppercase()
            ))
        })?;
        form.extend(
            provider
                .token_params
                .iter()
                .map(|(name, value)| (*name, (*value).to_owned())),
        );
        form.push(("client_id", client_id.to_owned()));
        form.push(("client_secret", client_secret.expose_secret().to_owned()));
        let url = self.resolve(provider, &connection.model.account, provider.token_url)?;
        let request = self
            .client
            .post(url.clone())
            .header("accept", "application/json")
            .form(&form);
        let answer = self.exchange(connection, None, request, None).await?;
        if !answer.is_success() {
            let message = vendor_message(&answer.body, &answer.text);
            return Err(if answer.status >= 500 {
                Failure::Vendor(format!(
                    "{}'s token endpoint failed ({}): {message}",
                    provider.name, answer.status
                ))
            } else if answer.status == 429 {
                Failure::RateLimited {
                    retry_after: retry_after(&answer.headers, provider),
                    message: format!("{}'s token endpoint is limiting requests", provider.name),
                }
            } else if answer.status != 408 {
                // invalid_grant, invalid_client, HubSpot's BAD_REFRESH_TOKEN…: the grant or the client is
                // refused, and asking again will not change that.
                Failure::Authorization(format!(
                    "{} refused the authorization: {message}",
                    provider.name
                ))
            } else {
                Failure::Vendor(format!(
                    "{}'s token endpoint answered {}: {message}",
                    provider.name, answer.status
                ))
            });
        }
        // Zoho answers 200 with {"error": "invalid_code"} when a code is refused.
        if let Some(error) = answer.body.get("error").and_then(Value::as_str) {
            return Err(Failure::Authorization(format!(
                "{} refused the authorization: {error}",
                provider.name
            )));
        }
        let access_token = answer
            .body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Failure::Vendor(format!(
                    "{}'s token endpoint answered without an access token",
                    provider.name
                ))
            })?
            .to_owned();
        let mut metadata = Map::new();
        for field in provider.token_metadata {
            if let Some(value) = answer.body.get(*field).and_then(Value::as_str) {
                let origin = self
                    .endpoints
                    .vendor_origin(provider, value)
                    .map_err(Failure::Configuration)?;
                metadata.insert((*field).to_owned(), Value::String(origin));
            }
        }
        Ok(Tokens {
            access_token,
            refresh_token: answer
                .body
                .get("refresh_token")
                .and_then(Value::as_str)
                .map(str::to_owned),
            // Mailchimp's `expires_in: 0` means a token that never expires.
            expires_in: answer
                .body
                .get("expires_in")
                .and_then(|v| {
                    v.as_i64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .filter(|s| *s > 0),
            metadata,
        })
    }

    /// Refreshes the connection's access token, once across instances: a task of this instance waits for the
    /// one refreshing; another instance's refresh is noticed through the row (its lease, then its new token).
    /// `force` refreshes even a token that is not about to expire (after a 401), unless someone already did.
    pub async fn refresh(&self, connection: &mut Connection, force: bool) -> Result<(), Failure> {
        let lock = {
            let mut refreshing = self
                .refreshing
                .lock()
                .map_err(|_| Failure::Vendor("a refresh lock was poisoned".to_owned()))?;
            refreshing
                .entry(connection.model.id.clone())
                .or_default()
                .clone()
        };
        let _held = lock.lock().await;
        let used_token = connection.credentials.access_token.clone();
        for _ in 0..40 {
            let current = self.reload(connection).await?;
            if current.status != IntegrationStatus::Connected.as_str() {
                return Err(Failure::Authorization(format!(
                    "the {} connection needs to be authorized again",
                    connection.provider.name
                )));
            }
            let renewed = connection.credentials.access_token != used_token;
            if renewed || (!force && !self.expires_soon(&connection.model)) {
                return Ok(());
            }
            if self
                .take_refresh_lease(&connection.model.id, connection.model.updated_at)
                .await?
            {
                return self.refresh_now(connection).await;
            }
            // Another instance is refreshing: its token shows up in the row.
            tokio::time::sleep(StdDuration::from_millis(250)).await;
        }
        Err(Failure::Vendor(format!(
            "the {} token refresh of another instance did not finish",
            connection.provider.name
        )))
    }

    /// Reads the connection's row and credentials again.
    async fn reload(&self, connection: &mut Connection) -> Result<integration::Model, Failure> {
        let model = integration::Entity::find_by_id(connection.model.id.clone())
            .one(self.db.conn())
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| Failure::Configuration("the integration was deleted".to_owned()))?;
        connection.credentials = Credentials::open(&self.sealer, &model)?;
        connection.model = model.clone();
        Ok(model)
    }

    /// Takes the connection's refresh lease, if it is free and the row is still as read at `seen` (a refresh
    /// that another instance finished meanwhile changed it: then the new token is read instead).
    async fn take_refresh_lease(
        &self,
        id: &str,
        seen: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, Failure> {
        let at = now();
        let txn = self.db.begin_write().await.map_err(ApiError::from)?;
        let taken = integration::Entity::update_many()
            .col_expr(
                integration::Column::RefreshLeaseUntil,
                Expr::value(at + Duration::seconds(REFRESH_LEASE)),
            )
            .filter(integration::Column::Id.eq(id))
            .filter(integration::Column::UpdatedAt.eq(seen))
            .filter(
                Condition::any()
                    .add(integration::Column::RefreshLeaseUntil.is_null())
                    .add(integration::Column::RefreshLeaseUntil.lt(at)),
            )
            .exec(&*txn)
            .await
            .map_err(ApiError::from)?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(taken.rows_affected == 1)
    }

    /// Calls the token endpoint with the refresh token (holding the lease) and stores the outcome at once: the
    /// new tokens (a rotated refresh token included), or for a refusal the state that stops the connection's jobs.
    async fn refresh_now(&self, connection: &mut Connection) -> Result<(), Failure> {
        let Some(refresh_token) = connection.credentials.refresh_token.clone() else {
            let failure = Failure::Authorization(format!(
                "{} gave no refresh token and the access token expired",
                connection.provider.name
            ));
            self.refresh_refused(connection, &failure).await?;
            return Err(failure);
        };
        let outcome = self
            .token_request(
                connection,
                vec![
                    ("grant_type", "refresh_token".to_owned()),
                    ("refresh_token", refresh_token.clone()),
                ],
            )
            .await;
        match outcome {
            Ok(tokens) => {
                let mut credentials = connection.credentials.clone();
                credentials.access_token = Some(tokens.access_token);
                if let Some(rotated) = tokens.refresh_token {
                    credentials.refresh_token = Some(rotated);
                }
                let mut account = connection.model.account.clone();
                if let Some(object) = account.as_object_mut() {
                    object.extend(tokens.metadata);
                }
                let at = now();
                let mut row = integration::ActiveModel::from(connection.model.clone());
                row.credentials = Set(Some(credentials.seal(&self.sealer, &connection.model.id)?));
                row.account = Set(account);
                row.token_expires_at = Set(tokens.expires_in.map(|s| at + Duration::seconds(s)));
                row.refresh_lease_until = Set(None);
                row.last_refreshed_at = Set(Some(at));
                row.refresh_failures = Set(0);
                row.updated_at = Set(at);
                let txn = self.db.begin_write().await.map_err(ApiError::from)?;
                let model = row.update(&*txn).await.map_err(ApiError::from)?;
                txn.commit().await.map_err(ApiError::from)?;
                connection.model = model;
                connection.credentials = credentials;
                Ok(())
            }
            Err(failure @ Failure::Authorization(_)) => {
                self.refresh_refused(connection, &failure).await?;
                Err(failure)
            }
            Err(failure) => {
                let mut row = integration::ActiveModel::from(connection.model.clone());
                row.refresh_lease_until = Set(None);
                row.refresh_failures = Set(connection.model.refresh_failures + 1);
                row.last_error = Set(Some(failure.message().to_owned()));
                row.updated_at = Set(now());
                let txn = self.db.begin_write().await.map_err(ApiError::from)?;
                connection.model = row.update(&*txn).await.map_err(ApiError::from)?;
                txn.commit().await.map_err(ApiError::from)?;
                Err(failure)
            }
        }
    }

    /// The vendor refused the grant for good: the connection waits for the customer to reconnect, its jobs are
    /// held, and `integration.auth_failed` says so.
    async fn refresh_refused(
        &self,
        connection: &mut Connection,
        failure: &Failure,
    ) -> Result<(), Failure> {
        let mut row = integration::ActiveModel::from(connection.model.clone());
        row.status = Set(IntegrationStatus::ReauthorizationRequired
            .as_str()
            .to_owned());
        row.refresh_lease_until = Set(None);
        row.refresh_failures = Set(connection.model.refresh_failures + 1);
        row.last_error = Set(Some(failure.message().to_owned()));
        row.updated_at = Set(now());
        let txn = self.db.begin_write().await.map_err(ApiError::from)?;
        connection.model = row.update(&*txn).await.map_err(ApiError::from)?;
        outbox::record(
            &txn,
            &connection.model.organization_id,
            names::INTEGRATION_AUTH_FAILED,
            None,
            json!({
                "integration_id": connection.model.id,
                "provider": connection.provider.key,
                "reason": failure.message(),
            }),
        )
        .await?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(())
    }

    /// Gives up the grant at the vendor where it has a call for it; what the vendor answered, in words.
    pub async fn revoke(&self, connection: &Connection) -> Result<String, Failure> {
        use crate::service::integrations::providers::Revocation;
        let provider = connection.provider;
        if connection.credentials.api_key.is_some() {
            return Ok(format!(
                "the API token stays valid in {}: delete it there if nothing else uses it",
                provider.name
            ));
        }
        let Some(token) = connection
            .credentials
            .refresh_token
            .clone()
            .or_else(|| connection.credentials.access_token.clone())
        else {
            return Ok("there was no token to revoke".to_owned());
        };
        let account = &connection.model.account;
        let (request, shown) = match provider.revocation {
            Revocation::None => {
                return Ok(format!(
                    "{} has no revocation call: remove the app in {} too",
                    provider.name, provider.name
                ));
            }
            Revocation::PostToken(template) => {
                let url = self.resolve(provider, account, template)?;
                (self.client.post(url).form(&[("token", token)]), None)
            }
            Revocation::DeleteCurrentToken(template) => {
                let url = self.resolve(provider, account, template)?;
                let access = connection.credentials.access_token.clone().unwrap_or(token);
                (self.client.delete(url).bearer_auth(access), None)
            }
            Revocation::DeleteRefreshToken(template) => {
                let base = self.resolve(provider, account, template)?;
                let shown = format!("{}/…", base.path());
                let mut url = base;
                url.path_segments_mut()
                    .map_err(|()| Failure::Configuration("revocation URL".to_owned()))?
                    .push(&token);
                (self.client.delete(url), Some(shown))
            }
        };
        let answer = self.exchange(connection, None, request, shown).await?;
        if answer.is_success() {
            Ok(format!("{} revoked the authorization", provider.name))
        } else {
            Err(Failure::Vendor(format!(
                "{} did not revoke the authorization ({}): {}",
                provider.name,
                answer.status,
                vendor_message(&answer.body, &answer.text)
            )))
        }
    }
}
