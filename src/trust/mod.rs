//! Trust: what a relying platform accepts. This layer holds the trust list (which provider
//! roots are accepted, which provider each may speak for and what it may assert) and its
//! verification [`Policy`] (clock skew, validity and validation age limits, the
//! [`ScopeRule`], the [`RevocationPolicy`], the [`LogProofPolicy`]) with the transparency logs
//! and witnesses it accepts. It uses only [`crate::sii`], [`crate::profile`] and the keys of
//! [`crate::log`]; the verifier uses it, never the other way round. Signed trust lists,
//! signer sets, rollback state and hot reload will live here too.

mod list;
mod policy;

pub use list::{Anchor, TrustList, TrustListBuilder, TrustListError, TrustedLog, TrustedWitness};
pub use policy::{LogProofPolicy, Policy, RevocationPolicy, ScopeRule};
