//! What a caller may do, listed: each resource and action of the policy, allowed, or refused by the plan (with
//! the plan that has it) or by the role (`Me.permissions`).

use crate::auth::roles::Plan;
use crate::authz::{Action, Principal, Resource, authorize};
use crate::error::{ApiError, ApiResult};

/// Whether the caller may do one thing, and if not, whether a plan would allow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// The role allows it, the plan does not: this is the lowest plan that does.
    NeedsPlan(Plan),
    /// The role (or the key's scopes) does not allow it, on any plan.
    Refused,
}

/// What the caller may do: each resource and action that the policy names (role grants aside), decided as
/// [`authorize`] would decide it.
pub async fn permissions(principal: &Principal) -> ApiResult<Vec<(Resource, Action, Decision)>> {
    let authz = &principal.authz;
    let named = authz.policy_pairs().await;
    let mut decisions = Vec::new();
    for resource in Resource::LISTED {
        for action in Action::LISTED {
            if !named.contains(&(resource.object().to_owned(), action.as_str().to_owned())) {
                continue;
            }
            let decision = match authorize(principal, resource, action).await {
                Ok(_) => Decision::Allowed,
                Err(ApiError::PlanUpgradeRequired(_)) => {
                    let feature = authz
                        .feature_needed(principal, resource.object(), action.as_str())
                        .await;
                    // Allowed by the role but not the plan: the feature's plan, or for a key the plan whose
                    // API access writes.
                    let needed = match feature {
                        Some(feature)
                            if !authz
                                .plan_includes(principal.organization_of_record(), &feature)
                                .await =>
                        {
                            feature
                        }
                        _ => "api.write".to_owned(),
                    };
                    authz
                        .plan_with(&needed)
                        .map_or(Decision::Refused, Decision::NeedsPlan)
                }
                Err(ApiError::Forbidden(_)) => Decision::Refused,
                Err(other) => return Err(other),
            };
            decisions.push((resource, action, decision));
        }
    }
    Ok(decisions)
}
