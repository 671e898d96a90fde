//! Synthetic Lync 2010 Group Chat databases, for rehearsals and benchmarks.
//!
//! [`generate`] fills a database that already holds the empty legacy 2010 schema
//! (`fixtures/schema/legacy2010.*.sql`) with a plausible deployment: principals with their
//! full (transitive) affiliation lists, a nested category tree with scopes, member lists,
//! managers and auditorium rooms, and a skewed chat history. Everything is drawn from a
//! seeded SplitMix64 generator, one stream per phase, so the same options write the same
//! rows in the same order, on SQLite and PostgreSQL alike. The history is generated while
//! it is written, so memory depends on the numbers of users and rooms, never of messages.
//!
//! `principals.rs` and `tree.rs` build and write the directory and the category tree,
//! `chats.rs` streams the history; all of them write through `batch.rs` and draw from
//! `rng.rs` and the word lists in `text.rs`.

mod batch;
mod chats;
mod principals;
mod rng;
mod text;
mod tree;

use anyhow::{bail, Result};

use crate::db::Conn;
use crate::progress::Progress;
use chats::write_chats;
use principals::{write_principals, Ids};
use rng::Rng;
use tree::{build_tree, write_tree};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Users (type 5; about 1% are federated, type 7).
    pub users: u64,
    /// AD security groups (type 9).
    pub groups: u64,
    /// Chat rooms (categories come with them: one per 8 rooms, at least 3).
    pub rooms: u64,
    /// Messages over all rooms, exactly.
    pub messages: u64,
    /// Seed: the same options give the same database.
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SynthSummary {
    /// Users, federated ones included.
    pub users: u64,
    /// AD security groups.
    pub groups: u64,
    /// Categories, not counting the root.
    pub categories: u64,
    /// Chat rooms.
    pub rooms: u64,
    /// Messages.
    pub messages: u64,
}

const T0: u64 = 634_000_000_000_000_000; // .NET ticks: mid-January 2010
const DAY: u64 = 864_000_000_000;

/// Lookup tables, the version row and the system user. Role ids are deliberately not
/// 1, 2, 3: readers must match `rtypeDesc`.
const FIXED_SQL: &[&str] = &[
    "INSERT INTO tblPrincipalType (ptypeID, ptypeDesc, ptypeIsSystemUser, ptypeIsUser, \
     ptypeIsFederated) VALUES (1, 'Any', 0, 0, 0), (2, 'AnyUser', 0, 1, 0), \
     (3, 'AnyGroup', 0, 0, 0), (4, 'SystemUser', 1, 0, 0), (5, 'User', 0, 1, 0), \
     (6, 'ExternalUser', 0, 1, 0), \
     (7, 'FederatedUser', 0, 1, 1), (8, 'DC', 0, 0, 0), (9, 'Group', 0, 0, 0), \
     (10, 'Folder', 0, 0, 0), (11, 'Federated Group', 0, 0, 1)",
    "INSERT INTO tblEnumAttribute (attributeID, attributeName) \
     VALUES (1, 'Visibility'), (2, 'Behavior')",
    "INSERT INTO tblEnumValue (valueID, attributeID, attributeValue) VALUES (2, 1, 'private'), \
     (3, 1, 'scope'), (4, 2, 'normal'), (5, 2, 'auditorium')",
    "INSERT INTO tblRoleType (rtypeID, rtypeDesc, rtypeAllowedPermSet, honorsOverride, \
     honorsScope) VALUES (11, 'Member', 3968, 1, 1), (12, 'Manager', 12276, 0, 0), \
     (13, 'Voiced', 8064, 0, 1)",
    "INSERT INTO tblVersion (versionId, versionedOn, description, poolId) \
     VALUES (1, '2010-11-15 08:00:00', 'Lync Server 2010 Group Chat', '{guid}')",
    "INSERT INTO tblPrincipal (prinID, prinGuid, prinUri, prinName, prinDisabled, prinTypeID, \
     prinAllowedPermSet, prinUseInheritedPerms, prinAddedBy, prinAddedOn, prinUpdatedBy, \
     prinUpdatedOn, prinVerifiedOn) VALUES (1, '{guid}', 'sip:system@groupchat.local', \
     'Group Chat System', 0, 4, 7, 0, 1, 633948000000000000, 1, 633948000000000000, \
     '2010-11-15 08:00:00')",
];

/// Fills `db`, which must hold the empty legacy 2010 schema, with a synthetic deployment.
pub async fn generate(db: &Conn, opts: &SynthOptions, progress: &Progress) -> Result<SynthSummary> {
    if opts.messages > 0 && (opts.rooms == 0 || opts.users == 0) {
        bail!("synth: messages need at least one room and one user");
    }
    let ids = Ids::new(opts);
    let ncat = (opts.rooms / 8).max(3);
    if ids.user(opts.users) > i32::MAX as u64 || opts.rooms + ncat >= i32::MAX as u64 {
        bail!("synth: too many principals or rooms for the int id columns");
    }
    let mut rng = Rng::new(opts.seed, 1);
    let mut tx = db.begin().await?;
    for sql in FIXED_SQL {
        let sql = sql.replace("{guid}", &rng.guid());
        tx.execute("synth: writing the fixed rows", &sql, &[]).await?;
    }
    write_principals(&mut tx, &ids, &mut Rng::new(opts.seed, 2)).await?;
    let mut nodes = build_tree(opts, &ids, &mut Rng::new(opts.seed, 3));
    write_tree(&mut tx, &nodes, ids.admin()).await?;
    tx.commit().await?;
    nodes.retain(|n| !n.is_cat);
    let bar = progress.bar("synth", opts.messages);
    write_chats(db, &nodes, opts, &bar).await?;
    bar.finish();
    let (users, groups, rooms, messages) = (opts.users, opts.groups, opts.rooms, opts.messages);
    Ok(SynthSummary { users, groups, categories: ncat, rooms, messages })
}
