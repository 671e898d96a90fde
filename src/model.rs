//! Plain data read from a legacy Group Chat database (and kept in the workspace snapshot).
//!
//! Column meanings follow Microsoft's schema reference; ids are kept as `i64` whatever the
//! source column width, GUIDs as lowercase text, bits as `bool`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `tblNode.behavior` value of a normal room (and of every category).
pub const BEHAVIOR_NORMAL: i64 = 4;
/// `tblNode.behavior` value of an auditorium room: only presenters post.
pub const BEHAVIOR_AUDITORIUM: i64 = 5;
/// `tblNode.visibility` Private (2010) / Secret (2013).
pub const VISIBILITY_PRIVATE: i64 = 2;
/// `tblNode.visibility` Scoped (2010) / Closed (2013).
pub const VISIBILITY_SCOPED: i64 = 3;
/// `tblNode.visibility` Open (2013 only).
pub const VISIBILITY_OPEN: i64 = 6;
/// .NET ticks at 9999-12-31T23:59:59.9999999 (`DateTime.MaxValue`).
pub const MAX_TICKS: i64 = 3_155_378_975_999_999_999;

/// Which product wrote the legacy database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceVersion {
    /// Lync Server 2010 Group Chat.
    Lync2010,
    /// Office Communications Server 2007 R2 Group Chat (no `tblNode.scopeDefinerId`).
    Ocs2007R2,
    /// A Lync 2013 Persistent Chat `mgc` database (a pool-to-pool move).
    Mgc2013,
}

impl SourceVersion {
    /// A human name for reports.
    pub fn label(self) -> &'static str {
        match self {
            SourceVersion::Lync2010 => "Lync Server 2010 Group Chat",
            SourceVersion::Ocs2007R2 => "OCS 2007 R2 Group Chat",
            SourceVersion::Mgc2013 => "Lync 2013 Persistent Chat (mgc)",
        }
    }
}

/// A `tblPrincipalType` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalType {
    /// `ptypeID`.
    pub id: i64,
    /// `ptypeDesc`.
    pub desc: String,
    /// `ptypeIsSystemUser`.
    pub is_system_user: bool,
    /// `ptypeIsUser`.
    pub is_user: bool,
    /// `ptypeIsFederated` (2010 only; false elsewhere).
    pub is_federated: bool,
}

/// A `tblPrincipal` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// `prinID`.
    pub id: i64,
    /// `prinGuid`, lowercase.
    pub guid: String,
    /// `prinUri` (`sip:` for users, `ma-grp:` otherwise).
    pub uri: String,
    /// `prinName` (the display name in 2010).
    pub name: Option<String>,
    /// `prinCompanyName`.
    pub company: Option<String>,
    /// `prinEmail`.
    pub email: Option<String>,
    /// `prinADPath`.
    pub ad_path: Option<String>,
    /// `prinADUserPrincipalName`.
    pub upn: Option<String>,
    /// `prinDisabled` is not 0.
    pub disabled: bool,
    /// `prinTypeID`.
    pub type_id: i64,
    /// `prinAddedOn` (ticks).
    pub added_on: i64,
    /// `prinUpdatedOn` (ticks).
    pub updated_on: i64,
}

/// A `tblNode` row: a category or a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// `nodeID`.
    pub id: i64,
    /// `nodeGuid`, lowercase.
    pub guid: String,
    /// `parentID` (the root is its own parent).
    pub parent_id: Option<i64>,
    /// `nodeType` = 1.
    pub is_category: bool,
    /// `nodeType` as read (0 room, 1 category; anything else is a data error the plan
    /// reports). `None` in snapshots written before it was kept.
    #[serde(default)]
    pub node_type: Option<i64>,
    /// `nodeName`.
    pub name: String,
    /// `nodeDesc`.
    pub desc: String,
    /// `topic` (2010 rooms).
    pub topic: Option<String>,
    /// `overrideMember`: a new member list starts here.
    pub override_member: bool,
    /// `invite` (None inherits).
    pub invite: Option<bool>,
    /// `logged` (None inherits).
    pub logged: Option<bool>,
    /// `filePost` (None inherits).
    pub file_post: Option<bool>,
    /// `disabled`.
    pub disabled: bool,
    /// `behavior` (4 normal, 5 auditorium).
    pub behavior: i64,
    /// `visibility` (2 private, 3 scoped, None inherits).
    pub visibility: Option<i64>,
    /// `scopeDefinerId`.
    pub scope_definer_id: Option<i64>,
    /// `roleDefinerId`.
    pub role_definer_id: Option<i64>,
    /// `siopID`, lowercase.
    pub siop_id: Option<String>,
    /// `nodeAddedBy`.
    pub added_by: i64,
    /// `nodeAddedOn` (ticks).
    pub added_on: i64,
    /// `nodeUpdatedBy`.
    pub updated_by: i64,
    /// `nodeUpdatedOn` (ticks).
    pub updated_on: i64,
}

/// A `tblScopePrincipal` row (2010: every row allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeRow {
    /// `scopeNodeID`.
    pub node_id: i64,
    /// `scopePrinID`.
    pub prin_id: i64,
    /// `scopeIsDenied` (2013 sources only).
    pub denied: bool,
}

/// A `tblPrincipalRole` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRow {
    /// `prinRoleNodeID`.
    pub node_id: i64,
    /// `prinRolePrinID`.
    pub prin_id: i64,
    /// `prinRoleTypeID`.
    pub role_type_id: i64,
    /// `honorsScope` (true where the column is missing).
    pub honors_scope: bool,
}

/// A `tblSiopWhiteList` row: an add-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addin {
    /// `siopId`, lowercase.
    pub id: String,
    /// `siopName`.
    pub name: String,
    /// `siopUrl`.
    pub url: String,
}

/// A `tblPrincipalInvites` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// `prinID`.
    pub prin_id: i64,
    /// `invID`.
    pub inv_id: i64,
    /// `nodeID`.
    pub node_id: i64,
    /// `createdOn`, as text.
    pub created_on: String,
}

/// A `tblChat` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    /// `channelId`: the room's `nodeID`.
    pub channel_id: i64,
    /// `chatId`: the room-local sequence number.
    pub chat_id: i64,
    /// `chatDate` (ticks).
    pub chat_date: i64,
    /// `userId`: the author's `prinID`.
    pub user_id: i64,
    /// `isAlert`.
    pub is_alert: bool,
    /// `content`, byte for byte.
    pub content: String,
}

/// Everything but the history: bounded by principals and rooms, kept in memory to plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Detected product version, if known.
    pub version: Option<SourceVersion>,
    /// `tblPrincipalType` by id.
    pub principal_types: BTreeMap<i64, PrincipalType>,
    /// `tblPrincipal` by id.
    #[serde(deserialize_with = "packed::map")]
    pub principals: BTreeMap<i64, Principal>,
    /// `tblPrincipalAffiliations` as (principal, affiliation) pairs, self rows included.
    pub affiliations: Vec<(i64, i64)>,
    /// `tblNode` by id.
    #[serde(deserialize_with = "packed::map")]
    pub nodes: BTreeMap<i64, Node>,
    /// `tblRoleType` id → `rtypeDesc`.
    pub role_types: BTreeMap<i64, String>,
    /// `tblScopePrincipal`.
    pub scopes: Vec<ScopeRow>,
    /// `tblPrincipalRole`.
    pub roles: Vec<RoleRow>,
    /// `tblSiopWhiteList`.
    pub addins: Vec<Addin>,
    /// `tblPrincipalInvites`.
    pub invites: Vec<Invite>,
    /// The legacy deployment's identity (`source::deployment`); `None` in a snapshot
    /// extracted before it was recorded (such a workspace must be re-extracted to load).
    #[serde(default)]
    pub deployment: Option<String>,
    /// What a legacy source lacked and was read as a default instead: (`tblX.col` or an
    /// optional table, the default), for `SOURCE_COLUMN_DEFAULTED` findings.
    #[serde(default)]
    pub defaulted: Vec<(String, String)>,
    /// The root node's `tblNode.filestoreURI` (the legacy file repository's address);
    /// `None` for a source without the column (2013, R2) or a snapshot read before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filestore_uri: Option<String>,
}

impl Snapshot {
    /// Gives back the room a parse left in its lists (see `Plan::shrink_to_fit`).
    pub fn shrink_to_fit(&mut self) {
        self.affiliations.shrink_to_fit();
        self.scopes.shrink_to_fit();
        self.roles.shrink_to_fit();
        self.invites.shrink_to_fit();
    }
}

/// Maps read whole and then built at once: a `BTreeMap` filled entry by entry in key order
/// leaves its nodes about half full (150,000 principals took 60 MB; built at once, 35).
mod packed {
    use std::collections::BTreeMap;
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

    /// Deserializes a map through a vector of its entries (later duplicates win).
    pub(super) fn map<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        struct Entries<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
            type Value = BTreeMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(m.size_hint().unwrap_or(0));
                while let Some(e) = m.next_entry()? {
                    entries.push(e);
                }
                Ok(entries.into_iter().collect())
            }
        }
        d.deserialize_map(Entries(PhantomData))
    }
}

/// .NET ticks at the Unix epoch (1970-01-01T00:00:00Z).
pub const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// .NET ticks as a UTC time and the 100 ns units within its second, or None out of range.
fn ticks_to_utc(ticks: i64) -> Option<(chrono::DateTime<chrono::Utc>, i64)> {
    if !(0..=MAX_TICKS).contains(&ticks) {
        return None;
    }
    let since_unix = ticks - UNIX_EPOCH_TICKS;
    let (secs, frac) = (since_unix.div_euclid(10_000_000), since_unix.rem_euclid(10_000_000));
    Some((chrono::DateTime::from_timestamp(secs, (frac * 100) as u32)?, frac))
}

/// Converts .NET ticks to an ISO-8601 UTC string for display, or None when out of range.
pub fn ticks_to_iso(ticks: i64) -> Option<String> {
    ticks_to_utc(ticks).map(|(d, _)| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Converts .NET ticks to ISO-8601 UTC with all seven digits of the 100 ns fraction
/// (`0001-01-01T00:00:00.0000000Z`, .NET's round-trip form), or None when out of range.
pub fn ticks_to_iso7(ticks: i64) -> Option<String> {
    ticks_to_utc(ticks).map(|(d, frac)| format!("{}.{frac:07}Z", d.format("%Y-%m-%dT%H:%M:%S")))
}

/// Converts a date (`YYYY-MM-DD`) to .NET ticks at midnight UTC.
pub fn date_to_ticks(date: &str) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let secs = d.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    Some(UNIX_EPOCH_TICKS + secs * 10_000_000)
}

#[cfg(test)]
impl Principal {
    /// An enabled principal of type `type_id` with every optional column empty, a GUID
    /// derived from its id and the URI `sip:<id>@x`, for tests.
    pub fn blank(id: i64, type_id: i64) -> Principal {
        Principal {
            id,
            guid: format!("00000000-0000-4000-8000-{id:012}"),
            uri: format!("sip:{id}@x"),
            name: None,
            company: None,
            email: None,
            ad_path: None,
            upn: None,
            disabled: false,
            type_id,
            added_on: 0,
            updated_on: 0,
        }
    }
}

#[cfg(test)]
impl Node {
    /// A node with every optional column empty and a GUID derived from its id, for tests.
    pub fn blank(id: i64, parent_id: Option<i64>, is_category: bool, name: &str) -> Node {
        Node {
            id,
            guid: format!("00000000-0000-0000-0000-{id:012}"),
            parent_id,
            is_category,
            node_type: Some(is_category as i64),
            name: name.into(),
            desc: String::new(),
            topic: None,
            override_member: false,
            invite: None,
            logged: None,
            file_post: None,
            disabled: false,
            behavior: BEHAVIOR_NORMAL,
            visibility: None,
            scope_definer_id: None,
            role_definer_id: None,
            siop_id: None,
            added_by: 1,
            added_on: 0,
            updated_by: 1,
            updated_on: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_trip_microsofts_example() {
        // The compliance XML example: long="633418086426127374" is 2008-03-22T18:50:42.6127374Z.
        assert_eq!(ticks_to_iso(633_418_086_426_127_374).unwrap(), "2008-03-22T18:50:42Z");
        assert_eq!(
            ticks_to_iso(date_to_ticks("2011-01-01").unwrap()).unwrap(),
            "2011-01-01T00:00:00Z"
        );
        assert!(ticks_to_iso(-1).is_none());
    }

    /// The compliance format's times: seven fraction digits, on the edges of .NET's range,
    /// on leap days, and a clear None (never a panic) outside it.
    #[test]
    fn ticks_to_iso7_on_edge_values() {
        let t = |d: &str| date_to_ticks(d).unwrap();
        assert_eq!(ticks_to_iso7(0).unwrap(), "0001-01-01T00:00:00.0000000Z");
        assert_eq!(ticks_to_iso7(1).unwrap(), "0001-01-01T00:00:00.0000001Z");
        assert_eq!(ticks_to_iso7(MAX_TICKS).unwrap(), "9999-12-31T23:59:59.9999999Z");
        assert_eq!(ticks_to_iso7(633_418_086_426_127_374).unwrap(), "2008-03-22T18:50:42.6127374Z");
        assert_eq!(ticks_to_iso7(UNIX_EPOCH_TICKS).unwrap(), "1970-01-01T00:00:00.0000000Z");
        assert_eq!(ticks_to_iso7(UNIX_EPOCH_TICKS - 1).unwrap(), "1969-12-31T23:59:59.9999999Z");
        let x = t("2011-03-04") + ((5 * 60 + 6) * 60 + 7) * 10_000_000 + 1_234_567;
        assert_eq!(ticks_to_iso7(x).unwrap(), "2011-03-04T05:06:07.1234567Z");
        // Leap days: 2012 and 2000 (divisible by 400) have one, 1900 (by 100 only) not.
        for leap in ["2012-02-29", "2000-02-29"] {
            assert_eq!(ticks_to_iso7(t(leap)).unwrap(), format!("{leap}T00:00:00.0000000Z"));
            assert_eq!(ticks_to_iso7(t(leap) - 1).unwrap()[..10], leap.replace("29", "28"));
        }
        assert!(date_to_ticks("1900-02-29").is_none());
        let day = 864_000_000_000;
        assert_eq!(ticks_to_iso7(t("1900-02-28") + day).unwrap(), "1900-03-01T00:00:00.0000000Z");
        assert_eq!(
            ticks_to_iso7(t("2000-02-28") + 2 * day).unwrap(),
            "2000-03-01T00:00:00.0000000Z"
        );
        for bad in [-1, i64::MIN, MAX_TICKS + 1, i64::MAX] {
            assert!(ticks_to_iso7(bad).is_none(), "{bad}");
        }
    }
}
