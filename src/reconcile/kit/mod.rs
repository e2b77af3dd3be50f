//! What every service needs, written once: typed properties ([`props`]), ownership
//! ([`owner`]), tags ([`tags`], [`tag_list`]), waiting ([`wait`]), NotFound as an answer
//! ([`gone`]), lost create responses ([`idem`]), references between kinds ([`refs`]) and a service's boilerplate ([`service`]). Services use the kit; they never
//! depend on the engine or on each other's internals. Progress (`crate::progress::Task`) and
//! AWS errors (`crate::aws::{AwsError, ErrorKind}`) live outside `reconcile`, so the kit and
//! the engine share them without depending on each other.

pub mod gone;
pub mod idem;
pub mod outputs;
pub mod owner;
pub mod props;
pub mod refs;
pub mod service;
pub mod tag_index;
pub mod tag_list;
pub mod tags;
pub mod wait;

pub use gone::{found, gone_ok, OrNotFound};
pub use idem::{adopt_on_exists, ctx_token, token, Existing, ReadBack};
pub use owner::{claimed_id, is_ours, Claims};
pub use props::{from_props, round_trip, to_props, Link, PropsError};
pub use refs::{refs_in, subnet_links, subnet_rids};
pub use tag_list::try_tag_list;
pub use tags::{sync_tags, TagApi, TagRead};
pub use wait::{retry_if, retry_while, until, with_ticker, Poll};
