//! Trust: what a relying platform accepts. This layer holds the trust list (which provider
//! roots are accepted, which provider each may speak for and what it may assert) and its
//! verification [`Policy`] (clock skew, validity and validation age limits, the
//! [`ScopeRule`], the [`RevocationPolicy`], the [`LogProofPolicy`]) with the transparency logs
//! and witnesses it accepts; signed lists (version 2), their [`SignerSet`]s, the rollback
//! state and the [`TrustListSource`] a verifier reloads from. It uses only [`crate::sii`],
//! [`crate::profile`] and the keys and notes of [`crate::log`]; the verifier uses it, never
//! the other way round.

mod list;
mod policy;
mod signed;
mod signers;
mod source;
mod state;

/// For `trust-list check` (the auditor's side).
#[cfg(feature = "ca")]
pub(crate) use list::{anchor_line, read_list_file};
pub use list::{
    Anchor, Refusal, TrustList, TrustListBuilder, TrustListError, TrustedLog, TrustedWitness,
};
pub use policy::{LogProofPolicy, Policy, RevocationPolicy, ScopeRule};
pub use signed::SignedTrustList;
pub use signers::SignerSet;
pub use source::{Accepted, TrustListSource};
