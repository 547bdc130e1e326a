//! SAML 2.0 for SSO connections (samael with xmlsec): IdP metadata, SP metadata, the AuthnRequest redirect and
//! the ACS.
//!
//! samael verifies nothing when it knows no signing certificate, so a connection without one is refused at
//! configuration time, and the allowed signature algorithms are set explicitly (RSA and ECDSA with SHA-256 or
//! stronger; SHA-1 is refused). samael then checks the Response's Destination, the InResponseTo of a request we
//! stored, the Issuer, the Audience, the Recipient, NotBefore and NotOnOrAfter (with the connection's clock
//! skew), and reduces the document to what the signature covers, which defeats signature wrapping. Each
//! assertion id is remembered in the database until it expires, so a replayed response is refused on every
//! instance.

use std::str::FromStr;

use chrono::{Duration, Utc};
use entities::{sso_assertion, sso_connection, sso_request};
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::EntityDescriptor;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Map, Value, json};

use crate::auth::{Origin, tokens};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::service::identity::sessions::SessionPolicy;
use crate::service::identity::sso::idp::{Check, IdpClient, chain};
use crate::service::identity::sso::provisioning::{FinishedSignIn, sign_in};
use crate::service::identity::sso::refusal::SignInRefusal;
use crate::service::identity::sso::requests::{Redirect, connection_for, take_request};
use crate::service::identity::sso::settings::{
    REQUEST_MINUTES, SamlInput, SamlSettings, saml_settings,
};
use crate::service::now;

/// The signature algorithms accepted on responses and assertions: SHA-256 and stronger, never SHA-1.
const ALLOWED: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// Builds the stored settings from the input: the metadata as XML, by URL (fetched now), or from its parts.
pub(crate) async fn resolve(idp: &IdpClient, input: Option<&SamlInput>) -> ApiResult<SamlSettings> {
    let input = input
        .ok_or_else(|| ApiError::validation("saml", "a SAML connection needs its settings"))?;
    let clock_skew_secs = input.clock_skew_secs.unwrap_or(60);
    if clock_skew_secs > 600 {
        return Err(ApiError::validation(
            "saml.clock_skew_seconds",
            "must be at most 600",
        ));
    }
    let (xml, metadata_url, fetched) = match (&input.metadata_xml, &input.metadata_url) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "saml",
                "give the metadata as XML or by URL, not both",
            ));
        }
        (Some(xml), None) => (xml.clone(), None, None),
        (None, Some(url)) => {
            let xml = fetch_metadata(idp, url)
                .await
                .map_err(|reason| ApiError::validation("saml.metadata_url", reason))?;
            (xml, Some(url.clone()), Some(Utc::now()))
        }
        (None, None) => (from_parts(input)?, None, None),
    };
    settings_from_xml(
        &xml,
        metadata_url,
        fetched,
        input.allow_idp_initiated,
        clock_skew_secs,
    )
}

/// Reads IdP metadata XML into settings; refuses metadata without a signing certificate or a redirect-binding
/// sign-on URL.
pub(crate) fn settings_from_xml(
    xml: &str,
    metadata_url: Option<String>,
    fetched: Option<chrono::DateTime<Utc>>,
    allow_idp_initiated: bool,
    clock_skew_secs: u32,
) -> ApiResult<SamlSettings> {
    if xml.len() > 1_000_000 {
        return Err(ApiError::validation("saml.metadata_xml", "is over 1 MB"));
    }
    let metadata = EntityDescriptor::from_str(xml).map_err(|e| {
        ApiError::validation("saml.metadata_xml", format!("is not SAML metadata: {e}"))
    })?;
    let entity_id = metadata
        .entity_id
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::validation("saml.metadata_xml", "names no entityID"))?;
    let sso_url = metadata
        .idp_sso_descriptors
        .iter()
        .flatten()
        .flat_map(|d| d.single_sign_on_services.iter())
        .find(|s| s.binding == REDIRECT_BINDING)
        .map(|s| s.location.clone())
        .ok_or_else(|| {
            ApiError::validation(
                "saml.metadata_xml",
                "has no IDPSSODescriptor with an HTTP-Redirect SingleSignOnService",
            )
        })?;
    let probe = ServiceProvider {
        idp_metadata: metadata,
        ..ServiceProvider::default()
    };
    // samael would skip signature checks without a certificate: such a connection is never stored.
    let certificates = probe
        .idp_signing_certs()
        .map_err(|e| {
            ApiError::validation(
                "saml.certificates",
                format!("a signing certificate cannot be read: {e}"),
            )
        })?
        .filter(|certs| !certs.is_empty())
        .ok_or_else(|| {
            ApiError::validation(
                "saml.certificates",
                "the IdP metadata has no signing certificate; without one no response could be verified",
            )
        })?;
    let mut encoded = Vec::new();
    for cert in &certificates {
        openssl::x509::X509::from_der(cert.der_data()).map_err(|e| {
            ApiError::validation(
                "saml.certificates",
                format!("a signing certificate is not X.509: {e}"),
            )
        })?;
        use base64::Engine;
        encoded.push(base64::engine::general_purpose::STANDARD.encode(cert.der_data()));
    }
    Ok(SamlSettings {
        idp_entity_id: entity_id,
        sso_url,
        certificates: encoded,
        metadata_url,
        metadata_xml: xml.to_owned(),
        metadata_fetched_at: fetched,
        allow_idp_initiated,
        clock_skew_secs,
    })
}

/// IdP metadata built from an entity id, a sign-on URL and certificates (PEM or base64 DER).
fn from_parts(input: &SamlInput) -> ApiResult<String> {
    let entity_id = input
        .entity_id
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| {
            ApiError::validation(
                "saml",
                "give metadataXml, metadataUrl, or entityId with ssoUrl and certificates",
            )
        })?;
    let sso_url = input
        .sso_url
        .as_deref()
        .map(|u| crate::service::assistants::validate_url("saml.sso_url", u))
        .transpose()?
        .ok_or_else(|| ApiError::validation("saml.sso_url", "is required with entityId"))?;
    if input.certificates.is_empty() {
        return Err(ApiError::validation(
            "saml.certificates",
            "at least one signing certificate is required",
        ));
    }
    let mut keys = String::new();
    for (i, cert) in input.certificates.iter().enumerate() {
        let body: String = cert
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
            .split_whitespace()
            .collect();
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .map_err(|_| {
                ApiError::validation(
                    &format!("saml.certificates[{i}]"),
                    "is not a PEM or base64 DER certificate",
                )
            })?;
        openssl::x509::X509::from_der(&der).map_err(|_| {
            ApiError::validation(
                &format!("saml.certificates[{i}]"),
                "is not an X.509 certificate",
            )
        })?;
        keys.push_str(&format!(
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        ));
    }
    Ok(format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{}\">\
         <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}\
         <md:SingleSignOnService Binding=\"{REDIRECT_BINDING}\" Location=\"{}\"/></md:IDPSSODescriptor></md:EntityDescriptor>",
        xml_escape(entity_id.trim()),
        xml_escape(&sso_url)
    ))
}

fn xml_escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Fetches IdP metadata through the SSRF guard.
async fn fetch_metadata(idp: &IdpClient, url: &str) -> Result<String, String> {
    idp.guard(url)?;
    let response = idp
        .http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url} cannot be fetched: {}", chain(&e)))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    response
        .text()
        .await
        .map_err(|e| format!("{url} could not be read: {e}"))
}

/// The SP entity id of a connection: its metadata URL.
pub fn sp_entity_id(acs_url: &str) -> String {
    format!("{}/metadata", acs_url.trim_end_matches("/acs"))
}

/// samael's service provider for a connection, with the checks set explicitly.
fn service_provider(settings: &SamlSettings, acs_url: &str) -> ApiResult<ServiceProvider> {
    let metadata = EntityDescriptor::from_str(&settings.metadata_xml)
        .map_err(|e| ApiError::internal_msg(format!("stored SAML metadata: {e}")))?;
    ServiceProviderBuilder::default()
        .entity_id(sp_entity_id(acs_url))
        .metadata_url(sp_entity_id(acs_url))
        .acs_url(acs_url.to_owned())
        .slo_url(None)
        .idp_metadata(metadata)
        .allow_idp_initiated(settings.allow_idp_initiated)
        .max_clock_skew(Duration::seconds(i64::from(settings.clock_skew_secs)))
        .max_issue_delay(Duration::seconds(90))
        .allowed_signature_algorithms(Some(ALLOWED.to_vec()))
        .build()
        .map_err(ApiError::internal)
}

/// The SP metadata XML of a connection, for the IdP's administrators.
pub async fn sp_metadata(db: &Db, id: &str, acs_url: &str) -> ApiResult<String> {
    // Written here rather than by samael, whose metadata would advertise a logout endpoint we do not serve.
    connection_for(db, "saml", id).await?;
    Ok(format!(
        "<?xml version=\"1.0\"?>\n<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entity}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\
         <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\
         </md:SPSSODescriptor></md:EntityDescriptor>\n",
        entity = xml_escape(&sp_entity_id(acs_url)),
        acs = xml_escape(acs_url),
    ))
}

/// Starts a SAML sign-in: stores the AuthnRequest's id under the hash of a browser-bound state (the
/// RelayState) and answers the IdP's redirect URL.
pub(crate) async fn begin(
    db: &Db,
    connection: &sso_connection::Model,
    acs_url: &str,
    return_to: String,
) -> ApiResult<Redirect> {
    let settings = saml_settings(connection)?;
    let sp = service_provider(&settings, acs_url)?;
    let request = sp
        .make_authentication_request(&settings.sso_url)
        .map_err(|e| ApiError::internal_msg(e.to_string()))?;
    let state = tokens::random("");
    let url = request
        .redirect(&state)
        .map_err(|e| ApiError::internal_msg(e.to_string()))?
        .ok_or_else(|| ApiError::internal_msg("no redirect URL for the AuthnRequest"))?;
    let at = now();
    sso_request::ActiveModel {
        id: Set(tokens::hash(&state)),
        connection_id: Set(connection.id.clone()),
        organization_id: Set(connection.organization_id.clone()),
        nonce: Set(Some(request.id.clone())),
        verifier: Set(None),
        return_to: Set(return_to),
        created_at: Set(at),
        expires_at: Set(at + Duration::minutes(REQUEST_MINUTES)),
    }
    .insert(db.conn())
    .await?;
    Ok(Redirect {
        url: url.to_string(),
        state,
    })
}

/// The ACS: verifies a posted SAML Response and signs the member in.
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    db: &Db,
    policy: SessionPolicy,
    id: &str,
    acs_url: &str,
    saml_response: Option<&str>,
    relay_state: Option<&str>,
    cookie_state: Option<&str>,
    origin: &Origin,
) -> Result<FinishedSignIn, SignInRefusal> {
    let connection = connection_for(db, "saml", id).await?;
    let org = Some(connection.organization_id.as_str());
    let unauthorized = |reason: String| SignInRefusal::unauthenticated(reason, org);
    let settings = saml_settings(&connection)?;
    let encoded = saml_response.filter(|r| !r.is_empty()).ok_or_else(|| {
        SignInRefusal::new(
            ApiError::BadRequest("no SAMLResponse was posted".to_owned()),
            org,
        )
    })?;
    let (request_ids, return_to) = match relay_state.filter(|r| !r.is_empty()) {
        Some(state) => {
            let request = take_request(db, &connection, state, cookie_state, "RelayState").await?;
            (
                request.nonce.into_iter().collect::<Vec<_>>(),
                request.return_to,
            )
        }
        None if settings.allow_idp_initiated => (Vec::new(), "/".to_owned()),
        None => {
            return Err(unauthorized(
                "IdP-initiated sign-in is off for this connection: start from the sign-in link"
                    .to_owned(),
            ));
        }
    };
    let sp = service_provider(&settings, acs_url)?;
    let ids: Vec<&str> = request_ids.iter().map(String::as_str).collect();
    let possible = (!ids.is_empty()).then_some(ids.as_slice());
    check_envelope(encoded.trim(), acs_url, &ids)
        .map_err(|reason| unauthorized(format!("the SAML response is not valid: {reason}")))?;
    let assertion = sp
        .parse_base64_response(encoded.trim(), possible)
        .map_err(|e| unauthorized(format!("the SAML response is not valid: {e}")))?;
    // Replay: each assertion id once, until it expires.
    let expires = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after)
        .unwrap_or_else(|| Utc::now() + Duration::minutes(10))
        + Duration::seconds(i64::from(settings.clock_skew_secs));
    sso_assertion::Entity::delete_many()
        .filter(sso_assertion::Column::ExpiresAt.lt(Utc::now()))
        .exec(db.conn())
        .await
        .map_err(ApiError::from)?;
    let inserted = sso_assertion::ActiveModel {
        id: Set(tokens::hash(&format!("{}:{}", connection.id, assertion.id))),
        connection_id: Set(connection.id.clone()),
        expires_at: Set(expires),
    }
    .insert(db.conn())
    .await;
    if inserted.is_err() {
        return Err(unauthorized(
            "this SAML assertion was already used (replay)".to_owned(),
        ));
    }
    let claims = claims_of(&assertion);
    let signed_in = sign_in(db, policy, &connection, &claims, origin).await?;
    Ok(FinishedSignIn {
        signed_in,
        return_to,
    })
}

/// Checks the Response around the assertion. When only the assertion is signed, samael validates the assertion
/// alone, so the envelope's Destination, status and InResponseTo are checked here: a response for another SP,
/// a failed one, or one answering another request is refused whatever its assertion says.
fn check_envelope(encoded: &str, acs_url: &str, request_ids: &[&str]) -> Result<(), String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "SAMLResponse is not base64".to_owned())?;
    let xml = std::str::from_utf8(&bytes).map_err(|_| "SAMLResponse is not UTF-8".to_owned())?;
    check_structure(xml)?;
    // Not a Response (a bare assertion, or unreadable): samael decides.
    let Ok(response) = samael::schema::Response::from_str(xml) else {
        return Ok(());
    };
    if let Some(destination) = &response.destination
        && destination != acs_url
    {
        return Err(format!(
            "its Destination {destination} is not this service provider's ACS"
        ));
    }
    if let Some(code) = response
        .status
        .as_ref()
        .and_then(|s| s.status_code.value.as_deref())
        && code != "urn:oasis:names:tc:SAML:2.0:status:Success"
    {
        return Err(format!("the identity provider answered {code}"));
    }
    if let Some(in_response_to) = &response.in_response_to
        && !request_ids.is_empty()
        && !request_ids.contains(&in_response_to.as_str())
    {
        return Err("it answers another request (InResponseTo)".to_owned());
    }
    Ok(())
}

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Refuses a Response whose shape leaves room for signature wrapping, whatever its signed part says: more than
/// one assertion anywhere in it, an assertion that is not a child of the Response, or one that neither its own
/// signature nor the Response's covers (each signature's reference must name its parent, as SAML requires).
fn check_structure(xml: &str) -> Result<(), String> {
    let Ok(document) = roxmltree::Document::parse(xml) else {
        // Unreadable: samael refuses it with its own words.
        return Ok(());
    };
    let root = document.root_element();
    if !root.has_tag_name((PROTOCOL_NS, "Response")) {
        return Ok(());
    }
    // A reference by ID must name one element.
    let mut ids = std::collections::HashSet::new();
    if !root
        .descendants()
        .filter_map(|n| n.attribute("ID"))
        .all(|id| ids.insert(id))
    {
        return Err("two of its elements have the same ID".to_owned());
    }
    let assertions: Vec<roxmltree::Node> = root
        .descendants()
        .filter(|n| {
            n.has_tag_name((ASSERTION_NS, "Assertion"))
                || n.has_tag_name((ASSERTION_NS, "EncryptedAssertion"))
        })
        .collect();
    let assertion = match assertions.as_slice() {
        [] => return Err("it carries no assertion".to_owned()),
        [one] => *one,
        many => {
            return Err(format!(
                "it carries {} assertions, and only a Response with exactly one is accepted",
                many.len()
            ));
        }
    };
    if assertion.parent_element() != Some(root) {
        return Err("its assertion is not a child of the Response".to_owned());
    }
    if !signs_itself(assertion) && !signs_itself(root) {
        return Err("its assertion is outside the signed element".to_owned());
    }
    Ok(())
}

/// Whether `element` has a signature of its own: a `ds:Signature` child whose reference names its ID.
fn signs_itself(element: roxmltree::Node) -> bool {
    let Some(id) = element.attribute("ID") else {
        return false;
    };
    let expected = format!("#{id}");
    element
        .children()
        .filter(|c| c.has_tag_name((DSIG_NS, "Signature")))
        .any(|signature| {
            let references: Vec<_> = signature
                .descendants()
                .filter(|n| n.has_tag_name((DSIG_NS, "Reference")))
                .collect();
            references.len() == 1 && references[0].attribute("URI") == Some(expected.as_str())
        })
}

/// The assertion's attributes as claims: each attribute under its Name and FriendlyName, with its values; the
/// NameID as `sub` (and as `email` when it is an email address and no attribute says otherwise).
fn claims_of(assertion: &samael::schema::Assertion) -> Value {
    let mut claims = Map::new();
    for statement in assertion.attribute_statements.iter().flatten() {
        for attribute in &statement.attributes {
            let values: Vec<Value> = attribute
                .values
                .iter()
                .filter_map(|v| v.value.clone().map(Value::String))
                .collect();
            for name in [&attribute.name, &attribute.friendly_name]
                .into_iter()
                .flatten()
            {
                claims.insert(name.clone(), Value::Array(values.clone()));
            }
        }
    }
    if let Some(name_id) = assertion.subject.as_ref().and_then(|s| s.name_id.as_ref()) {
        claims.insert("sub".to_owned(), json!(name_id.value));
        if name_id.value.contains('@') {
            claims
                .entry("email".to_owned())
                .or_insert_with(|| json!(name_id.value));
        }
    }
    Value::Object(claims)
}

/// `testSsoConnection` for SAML: the metadata (fetched again when it came by URL), each signing certificate's
/// validity and expiry, and the sign-on URL.
pub(crate) async fn test(idp: &IdpClient, settings: &SamlSettings) -> Vec<Check> {
    let mut checks = Vec::new();
    let xml = match &settings.metadata_url {
        Some(url) => match fetch_metadata(idp, url).await {
            Ok(xml) => {
                checks.push(Check {
                    name: "metadata".to_owned(),
                    ok: true,
                    detail: format!("{url} was fetched"),
                });
                xml
            }
            Err(reason) => {
                checks.push(Check {
                    name: "metadata".to_owned(),
                    ok: false,
                    detail: reason,
                });
                settings.metadata_xml.clone()
            }
        },
        None => settings.metadata_xml.clone(),
    };
    match settings_from_xml(&xml, None, None, false, 60) {
        Ok(read) => {
            for (i, cert) in read.certificates.iter().enumerate() {
                checks.push(certificate_check(i, cert));
            }
        }
        Err(err) => checks.push(Check {
            name: "metadata".to_owned(),
            ok: false,
            detail: err.public_message(),
        }),
    }
    checks.push(Check {
        name: "sso_url".to_owned(),
        ok: url::Url::parse(&settings.sso_url).is_ok(),
        detail: format!("sign-in requests go to {}", settings.sso_url),
    });
    checks
}

/// A certificate's subject and validity window, and whether it is valid now.
fn certificate_check(index: usize, encoded: &str) -> Check {
    use base64::Engine;
    let name = format!("certificate[{index}]");
    let parsed = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|der| openssl::x509::X509::from_der(&der).ok());
    let Some(cert) = parsed else {
        return Check {
            name,
            ok: false,
            detail: "not an X.509 certificate".to_owned(),
        };
    };
    let now = openssl::asn1::Asn1Time::days_from_now(0).ok();
    let valid_now = now
        .as_ref()
        .is_some_and(|now| cert.not_before() <= now.as_ref() && cert.not_after() >= now.as_ref());
    let subject = cert
        .subject_name()
        .entries()
        .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    Check {
        name,
        ok: valid_now,
        detail: format!(
            "{subject}: valid from {} until {}{}",
            cert.not_before(),
            cert.not_after(),
            if valid_now { "" } else { " (not valid now)" }
        ),
    }
}

/// Fetches again the metadata of SAML connections configured by URL (the hourly job); a fetch that fails or
/// lacks a signing certificate keeps the stored metadata. Answers how many connections changed.
pub async fn refresh_metadata(db: &Db, idp: &IdpClient) -> ApiResult<u64> {
    let connections = sso_connection::Entity::find()
        .filter(sso_connection::Column::Protocol.eq("saml"))
        .all(db.conn())
        .await?;
    let mut changed = 0;
    for connection in connections {
        let settings = saml_settings(&connection)?;
        let Some(url) = settings.metadata_url.clone() else {
            continue;
        };
        let refreshed = match fetch_metadata(idp, &url).await {
            Ok(xml) => settings_from_xml(
                &xml,
                Some(url.clone()),
                Some(Utc::now()),
                settings.allow_idp_initiated,
                settings.clock_skew_secs,
            ),
            Err(reason) => {
                tracing::warn!(connection = %connection.id, %reason, "SAML metadata refresh failed");
                continue;
            }
        };
        match refreshed {
            Ok(new) if new.metadata_xml != settings.metadata_xml => {
                let mut active: sso_connection::ActiveModel = connection.into();
                active.settings = Set(json!(new));
                active.updated_at = Set(now());
                active.update(db.conn()).await?;
                changed += 1;
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(connection = %connection.id, error = %err.public_message(), "refreshed SAML metadata refused");
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::check_structure;

    const HEAD: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_r">"#;

    fn signed(id: &str) -> String {
        format!(
            r##"<ds:Signature><ds:SignedInfo><ds:Reference URI="#{id}"/></ds:SignedInfo></ds:Signature>"##
        )
    }

    #[test]
    fn the_one_assertion_must_be_the_responses_child_and_signed_by_it_or_itself() {
        let assertion = |id: &str, signature: &str| {
            format!(
                r#"<saml:Assertion ID="{id}"><saml:Issuer>i</saml:Issuer>{signature}</saml:Assertion>"#
            )
        };
        let response = |inner: &str| format!("{HEAD}{inner}</samlp:Response>");
        assert_eq!(
            check_structure(&response(&assertion("_a", &signed("_a")))),
            Ok(())
        );
        assert_eq!(
            check_structure(&response(&format!(
                "{}{}",
                signed("_r"),
                assertion("_a", "")
            ))),
            Ok(())
        );
        for (inner, reason) in [
            (String::new(), "no assertion"),
            (assertion("_a", &signed("_b")), "outside the signed element"),
            (assertion("_a", ""), "outside the signed element"),
            (
                format!("{}{}", assertion("_a", &signed("_a")), assertion("_c", "")),
                "carries 2 assertions",
            ),
            (
                format!(
                    "<samlp:Extensions>{}</samlp:Extensions>",
                    assertion("_a", &signed("_a"))
                ),
                "not a child",
            ),
            (assertion("_r", &signed("_r")), "same ID"),
        ] {
            let refused = check_structure(&response(&inner)).unwrap_err();
            assert!(refused.contains(reason), "{inner}: {refused}");
        }
    }
}
