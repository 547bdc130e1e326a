//! Where the vendor account is: the choices made when connecting (Salesforce's environment or My Domain, Zoho's
//! data centre, Intercom's region, the help desks' subdomain) turned into the account fields the vendor's URLs are filled from.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::service::integrations::providers::{
    INTERCOM_REGIONS, Provider, SALESFORCE_LOGIN_HOSTS, ZOHO_DATA_CENTRES,
};

/// Where the vendor account is, chosen when connecting (only what the provider needs).
#[derive(Clone, Debug, Default)]
pub struct AccountChoice {
    /// Salesforce: `production` or `sandbox`.
    pub environment: Option<String>,
    /// Salesforce: the org's My Domain host (`acme.my.salesforce.com`), instead of the environment's login host.
    pub my_domain: Option<String>,
    /// Zoho: the data centre (`com`, `eu`, `in`, `com.au`, `jp`, `com.cn`, `zohocloud.ca`); Intercom: the
    /// region (`us`, `eu`, `au`).
    pub data_centre: Option<String>,
    /// Zendesk: the account's subdomain (`acme`, or `acme.zendesk.com`).
    pub subdomain: Option<String>,
}

/// The account fields the choices make: the login host (Salesforce) or the accounts host (Zoho).
pub(super) fn account_of(
    provider: &Provider,
    choice: &AccountChoice,
) -> ApiResult<Map<String, Value>> {
    let mut account = Map::new();
    match provider.key {
        "salesforce" => {
            let host = match (choice.my_domain.as_deref(), choice.environment.as_deref()) {
                (Some(domain), _) if !domain.trim().is_empty() => {
                    let domain = domain
                        .trim()
                        .trim_start_matches("https://")
                        .trim_end_matches('/')
                        .to_ascii_lowercase();
                    let valid = domain.ends_with(".my.salesforce.com")
                        && domain
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                    if !valid {
                        return Err(ApiError::validation(
                            "account.my_domain",
                            "must be the org's My Domain host, such as acme.my.salesforce.com",
                        ));
                    }
                    domain
                }
                (_, environment) => {
                    let environment = environment.unwrap_or("production");
                    SALESFORCE_LOGIN_HOSTS
                        .iter()
                        .find(|(name, _)| *name == environment)
                        .map(|(_, host)| (*host).to_owned())
                        .ok_or_else(|| {
                            ApiError::validation(
                                "account.environment",
                                "must be production or sandbox",
                            )
                        })?
                }
            };
            account.insert("login_host".to_owned(), Value::String(host));
        }
        "zoho" => {
            let centre = choice.data_centre.as_deref().unwrap_or("com");
            let (_, host) = ZOHO_DATA_CENTRES
                .iter()
                .find(|(name, _)| *name == centre)
                .ok_or_else(|| {
                    ApiError::validation(
                        "account.data_centre",
                        format!(
                            "must be one of {}",
                            ZOHO_DATA_CENTRES
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?;
            account.insert("data_centre".to_owned(), Value::String(centre.to_owned()));
            account.insert(
                "accounts_host".to_owned(),
                Value::String((*host).to_owned()),
            );
        }
        "intercom" => {
            let region = choice.data_centre.as_deref().unwrap_or("us");
            let (_, app, api) = INTERCOM_REGIONS
                .iter()
                .find(|(name, _, _)| *name == region)
                .ok_or_else(|| {
                    ApiError::validation("account.data_centre", "must be us, eu or au")
                })?;
            account.insert("region".to_owned(), Value::String(region.to_owned()));
            account.insert("app_host".to_owned(), Value::String((*app).to_owned()));
            account.insert("api_host".to_owned(), Value::String((*api).to_owned()));
        }
        "zendesk" | "freshdesk" => {
            let given = choice.subdomain.as_deref().unwrap_or_default().trim();
            let suffix = format!(".{}.com", provider.key);
            let subdomain = given
                .trim_start_matches("https://")
                .trim_end_matches('/')
                .to_ascii_lowercase();
            let subdomain = subdomain.trim_end_matches(&suffix).to_owned();
            let valid = !subdomain.is_empty()
                && subdomain.len() <= 63
                && !subdomain.starts_with('-')
                && subdomain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !valid {
                return Err(ApiError::validation(
                    "account.subdomain",
                    format!(
                        "must be the {} account's subdomain, such as acme for acme{suffix}",
                        provider.name
                    ),
                ));
            }
            account.insert("subdomain".to_owned(), Value::String(subdomain));
        }
        _ => {}
    }
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::integrations::providers;

    #[test]
    fn account_choices_are_checked() {
        let salesforce = providers::provider("salesforce").unwrap();
        let sandbox = account_of(
            salesforce,
            &AccountChoice {
                environment: Some("sandbox".to_owned()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(sandbox["login_host"], "test.salesforce.com");
        let mine = account_of(
            salesforce,
            &AccountChoice {
                my_domain: Some("https://Acme.my.salesforce.com/".to_owned()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(mine["login_host"], "acme.my.salesforce.com");
        assert!(
            account_of(
                salesforce,
                &AccountChoice {
                    my_domain: Some("evil.test".to_owned()),
                    ..Default::default()
                },
            )
            .is_err()
        );
        let zoho = providers::provider("zoho").unwrap();
        let eu = account_of(
            zoho,
            &AccountChoice {
                data_centre: Some("eu".to_owned()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(eu["accounts_host"], "accounts.zoho.eu");
        assert!(
            account_of(
                zoho,
                &AccountChoice {
                    data_centre: Some("mars".to_owned()),
                    ..Default::default()
                },
            )
            .is_err()
        );
        let intercom = providers::provider("intercom").unwrap();
        let eu = account_of(
            intercom,
            &AccountChoice {
                data_centre: Some("eu".to_owned()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(eu["api_host"], "api.eu.intercom.io");
        assert_eq!(eu["app_host"], "app.eu.intercom.com");
        let us = account_of(intercom, &AccountChoice::default()).unwrap();
        assert_eq!(us["api_host"], "api.intercom.io");
    }
}
