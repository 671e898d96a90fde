//! Step 2 of the build: the target categories. Persistent Chat has one level of categories
//! and keeps scope, history, file upload and invitations per category, so the rooms under
//! one legacy parent become one category per class of those settings (their `ClassKey`),
//! the parent's own class keeping the flattened base name and the others split off.

use std::collections::BTreeMap;

use super::access::{absorb, everyone_principals, restrict};
use super::names::{derived_guid, unique_name, ROOT_ROOMS_CATEGORY};
use super::rooms::{ClassKey, RoomDraft};
use super::Builder;
use crate::mapping::legacy::{Legacy, Scope, ROOT};
use crate::model::Node;
use crate::plan::{PlanCategory, Severity};

/// A legacy parent of planned rooms, on its way to one target category per class.
struct Parent<'a> {
    id: i64,
    node: &'a Node,
    /// The class of the parent's own settings, whose category keeps the base name.
    own: ClassKey,
    /// The classes of the parent's rooms, its own (when a room has it) first.
    classes: Vec<ClassKey>,
    /// The flattened path, or the name categories.csv gives.
    base: String,
    pool: String,
    /// `on_conflict = merge`: converge onto a same-named category the target has.
    merge: bool,
}

impl<'a> Builder<'a> {
    /// Step 2: plans one category per class of the rooms under each legacy parent, the
    /// parents in path order.
    pub(super) fn plan_categories(&mut self, drafts: &[RoomDraft<'a>]) {
        let mut by_parent: BTreeMap<i64, Vec<ClassKey>> = BTreeMap::new();
        for d in drafts {
            let classes = by_parent.entry(d.key.parent).or_default();
            if !classes.contains(&d.key) {
                classes.push(d.key.clone());
            }
        }
        let lg = &self.lg;
        let mut parents: Vec<(String, i64)> = by_parent
            .keys()
            .map(|&p| (lg.ancestors_or_self(p).map(|c| self.path_of(&c)).unwrap_or_default(), p))
            .collect();
        parents.sort();
        let everyone = everyone_principals(self.snap, self.opts.everyone_principal.as_deref());
        for (ppath, parent) in &parents {
            let p = self.category_parent(ppath, *parent, &by_parent[parent]);
            for (i, key) in p.classes.iter().enumerate() {
                self.plan_category(ppath, &p, i, key, &everyone);
            }
        }
    }

    /// The own class, ordered classes, base name and pool of a legacy parent, reporting the
    /// flattening of a nested one.
    fn category_parent(&mut self, ppath: &str, parent: i64, classes: &[ClassKey]) -> Parent<'a> {
        let (mappings, opts, lg) = (self.mappings, self.opts, &self.lg);
        let pnode = lg.node(parent).expect("parent of a planned room exists");
        let own = if crate::verify::mgc_source::is_mgc(self.snap) {
            self.mgc_key(parent)
        } else {
            ClassKey {
                parent,
                // A broken chain reads narrowly: nobody (never every user).
                scope: lg.scope(parent).unwrap_or(Scope::Set(Default::default())),
                logged: lg.inherited(parent, |n| n.logged, true),
                file_post: lg.inherited(parent, |n| n.file_post, true),
                invite: lg.inherited(parent, |n| n.invite, true),
            }
        };
        let mut classes = classes.to_vec();
        let main = classes.iter().position(|k| *k == own).unwrap_or(0);
        let first = classes.remove(main);
        classes.insert(0, first);
        let chain = lg.ancestors_or_self(parent).unwrap_or_default();
        let depth = chain.len().saturating_sub(1);
        let rule = mappings.category_rule(ppath);
        let pool = rule.and_then(|r| r.pool.clone()).unwrap_or_else(|| opts.default_pool.clone());
        let base = match rule.and_then(|r| r.target_name.clone()) {
            Some(name) => name,
            None if parent == ROOT => ROOT_ROOMS_CATEGORY.to_string(),
            None => chain
                .iter()
                .rev()
                .filter(|&&n| n != ROOT)
                .filter_map(|n| lg.node(*n))
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(&opts.separator),
        };
        if parent == ROOT && rule.and_then(|r| r.target_name.as_ref()).is_none() {
            self.f.add(Severity::Info, "ROOT_ROOMS", ppath, Some(&pnode.guid),
                format!("rooms placed directly under the legacy root go to the category `{base}` (the target has its \
                         own root category, and a category named after the legacy root would be a second one); name \
                         it in categories.csv (path /) to choose otherwise"));
        }
        if depth >= 2 {
            self.f.add(
                Severity::Info,
                "FLATTENED_HIERARCHY",
                ppath,
                Some(&pnode.guid),
                format!("nested category {ppath} becomes the top-level category `{base}`"),
            );
        }
        let merge = rule.is_some_and(|r| r.on_conflict == crate::mapping::OnConflict::Merge);
        Parent { id: parent, node: pnode, own, classes, base, pool, merge }
    }

    /// Plans the category of the `i`th class of a parent's rooms: its unique name, allowed
    /// members and creators.
    fn plan_category(
        &mut self,
        ppath: &str,
        p: &Parent<'a>,
        i: usize,
        key: &ClassKey,
        everyone: &[i64],
    ) {
        let (opts, pnode, own, base) = (self.opts, p.node, &p.own, &p.base);
        let name = if i == 0 {
            base.clone()
        } else {
            format!("{base}{}", opts.suffix.replace("{n}", &(i + 1).to_string()))
        };
        let split_reason = (i > 0 || key != own).then(|| split_reason(own, key, &self.lg));
        if let Some(reason) = &split_reason {
            self.f.add(Severity::Warning, "CATEGORY_SPLIT", ppath, Some(&pnode.guid),
                format!("rooms of {ppath} whose {reason} go to their own category `{name}` instead of \
                         being widened or changed; name the category in categories.csv to choose otherwise"));
        }
        let cat_key = format!("c{}", self.categories.len() + 1);
        let name = unique_name(
            &mut self.f,
            self.used_names.entry(p.pool.clone()).or_default(),
            &name,
            ppath,
            &opts.suffix,
        );
        let allowed = match &key.scope {
            Scope::Set(s) => s.iter().copied().collect(),
            Scope::Everyone => {
                if everyone.is_empty() {
                    self.f.add(Severity::Error, "NO_DOMAIN_PRINCIPAL", ppath, Some(&pnode.guid),
                        "the legacy scope is every user, but the source has no domain principal (type 8) \
                         to stand for it; set `everyone_principal` in gcmigrate.toml".into());
                }
                everyone.to_vec()
            }
        };
        let managers = self.lg.managers(p.id, opts.drop_root_managers).unwrap_or_default();
        let (kept, notes) = restrict(&self.lg, &mut self.marks, &managers, &key.scope, &allowed);
        let creators = absorb(kept, &notes);
        self.categories.push(PlanCategory {
            key: cat_key.clone(),
            name,
            legacy_path: ppath.to_string(),
            legacy_id: p.id,
            // The legacy root's GUID may be the target root's (a pool-to-pool move): the
            // category of its rooms gets a derived one.
            guid: if i == 0 && p.id != ROOT {
                pnode.guid.clone()
            } else {
                derived_guid(&pnode.guid, i)
            },
            split_reason,
            pool: p.pool.clone(),
            allowed,
            denied: Vec::new(),
            creators,
            invite: key.invite,
            logged: key.logged,
            file_post: key.file_post,
            desc: pnode.desc.clone(),
            merge: p.merge,
        });
        self.class_to_cat.insert(key.clone(), cat_key);
    }
}

/// Why a class of rooms differs from its parent's own class, for the CATEGORY_SPLIT finding.
fn split_reason(own: &ClassKey, key: &ClassKey, lg: &Legacy<'_>) -> String {
    let mut why = Vec::new();
    if own.scope != key.scope {
        let n = match &key.scope {
            Scope::Everyone => "every user".to_string(),
            Scope::Set(s) => format!("{} principal(s)", s.len()),
        };
        why.push(format!("scope differs ({n})"));
    }
    if own.logged != key.logged {
        why.push(format!("chat history is {}", if key.logged { "on" } else { "off" }));
    }
    if own.file_post != key.file_post {
        why.push(format!("file upload is {}", if key.file_post { "on" } else { "off" }));
    }
    if own.invite != key.invite {
        why.push(format!("invitations are {}", if key.invite { "on" } else { "off" }));
    }
    let _ = lg;
    if why.is_empty() {
        "settings differ".into()
    } else {
        why.join(", ")
    }
}
