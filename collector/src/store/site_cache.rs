//! The sites the public API resolves, kept in memory (issue 8).
//!
//! Every request to a site's public API — its configuration, a challenge, a
//! complaint — names the site by its key. Reading it from a read connection
//! cost a hand-off to the blocking pool and a parse of the configuration's
//! JSON on every request, twice per complaint (the challenge, then the
//! complaint). Now a site read once is kept, and **the writer forgets every
//! kept site whenever one changes**:
//!
//! - every store function that writes the `sites` table calls
//!   [`note_site_written`] inside its writer job; after that job the writer
//!   forgets all sites and refuses new entries until the transaction has
//!   ended, then forgets them once more (a read that raced the commit may
//!   have seen the old row, and it must not be kept);
//! - another process (`collector site configure` beside a running
//!   collector) commits without our writer: the writer compares
//!   `PRAGMA data_version` on its own connection, which changes only with
//!   other connections' commits, at the start of every batch, and forgets
//!   every site when it changed;
//! - a complaint is stored by `Store::record_complaint_for` together with
//!   the site the request was judged by. In the writer's job, the site must
//!   still be the kept one (a pointer comparison) or equal to the row as the
//!   transaction sees it; otherwise the job answers
//!   [`StoreError::SiteChanged`] and the handler judges the complaint again
//!   against the site as it is now. So no complaint is stored under rules
//!   older than the last committed change, even one made by another process
//!   a moment before.
//!
//! What may lag is a read-only answer (a site's configuration, a challenge)
//! after another process changed the site while this collector has written
//! nothing since: the next write batch notices.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::sites::{self, Site};
use super::{Store, StoreError};

/// More distinct sites than this and the cache starts over: memory stays
/// bounded whatever the number of sites.
const MAX_SITES: usize = 10_000;

/// The kept sites, by key.
pub(super) struct SiteCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Changes whenever the kept sites are forgotten; a read that began
    /// under an older generation is not kept.
    generation: u64,
    /// A site changed in the writer's open transaction: nothing is kept
    /// until it has ended.
    unsettled: bool,
    sites: HashMap<String, Arc<Site>>,
}

impl SiteCache {
    pub(super) fn new() -> SiteCache {
        SiteCache {
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement; a panic elsewhere
        // while it was held leaves nothing half-done.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The kept site, or the generation to fill it under.
    fn lookup(&self, site_key: &str) -> Result<Arc<Site>, u64> {
        let state = self.state();
        match state.sites.get(site_key) {
            Some(site) => Ok(Arc::clone(site)),
            None => Err(state.generation),
        }
    }

    /// Keeps `site`, read after `generation` was current, unless the sites
    /// were forgotten since or a change is still uncommitted.
    fn fill(&self, generation: u64, site: &Arc<Site>) {
        let mut state = self.state();
        if state.generation != generation || state.unsettled {
            return;
        }
        if state.sites.len() >= MAX_SITES {
            state.sites.clear();
        }
        state.sites.insert(site.key.clone(), Arc::clone(site));
    }

    /// Whether `site` is the one kept for its key: nothing changed since it
    /// was read.
    pub(super) fn is_current(&self, site: &Arc<Site>) -> bool {
        self.state()
            .sites
            .get(&site.key)
            .is_some_and(|kept| Arc::ptr_eq(kept, site))
    }

    /// A site changed inside the writer's open transaction.
    pub(super) fn changed_uncommitted(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.unsettled = true;
        state.sites.clear();
    }

    /// The transaction that changed a site has ended, or another process
    /// committed: forget everything read before.
    pub(super) fn settle(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.unsettled = false;
        state.sites.clear();
    }
}

thread_local! {
    /// Set by a write to `sites` on the writer's thread, taken after each job.
    static SITES_WRITTEN: Cell<bool> = const { Cell::new(false) };
}

/// Every store function that inserts, updates or deletes a row of `sites`
/// calls this inside its writer job.
pub(super) fn note_site_written() {
    SITES_WRITTEN.set(true);
}

/// Whether the job that just ran wrote `sites`; clears the mark.
pub(super) fn take_site_written() -> bool {
    SITES_WRITTEN.replace(false)
}

impl Store {
    /// The site with this key, kept in memory once read (see the module
    /// documentation for when it is forgotten).
    pub async fn site(&self, site_key: &str) -> Result<Option<Arc<Site>>, StoreError> {
        let generation = match self.inner.sites.lookup(site_key) {
            Ok(site) => return Ok(Some(site)),
            Err(generation) => generation,
        };
        let key = site_key.to_owned();
        let site = self
            .read(move |connection| sites::by_key(connection, &key))
            .await?;
        Ok(site.map(|site| {
            let site = Arc::new(site);
            self.inner.sites.fill(generation, &site);
            site
        }))
    }
}

/// Inside a writer job: whether the complaint's `site` is still the site as
/// the transaction sees it.
pub(super) fn still_current(
    cache: &SiteCache,
    connection: &rusqlite::Connection,
    site: &Arc<Site>,
) -> Result<bool, StoreError> {
    if cache.is_current(site) {
        return Ok(true);
    }
    // Forgotten for some other change (another site, another process's
    // unrelated commit): compare with the row itself.
    Ok(sites::by_key(connection, &site.key)?.is_some_and(|stored| stored == **site))
}

#[cfg(test)]
mod tests {
    use heard_shared::SiteConfig;

    use super::*;
    use crate::store::NewSite;
    use crate::store::test_support::temp_store;

    fn new_site(origins: &[&str]) -> NewSite {
        NewSite {
            merchant: "Acme".to_owned(),
            key: "acme".to_owned(),
            name: "Acme shop".to_owned(),
            allowed_origins: origins.iter().map(|origin| origin.to_string()).collect(),
            config: SiteConfig::with_defaults("acme", "Acme shop"),
        }
    }

    #[tokio::test]
    async fn a_site_is_kept_until_the_writer_changes_it() {
        let temp = temp_store();
        temp.store
            .add_site(new_site(&["https://a.example"]))
            .await
            .unwrap();
        let first = temp.store.site("acme").await.unwrap().unwrap();
        let again = temp.store.site("acme").await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again), "read once, then kept");
        assert!(temp.store.site("nope").await.unwrap().is_none());

        temp.store
            .upsert_site(new_site(&["https://b.example"]))
            .await
            .unwrap();
        let upserted = temp.store.site("acme").await.unwrap().unwrap();
        assert_eq!(upserted.allowed_origins, ["https://b.example"]);

        let mut config = SiteConfig::with_defaults("acme", "Acme kitchens");
        config.categories[0].label = "Changed".to_owned();
        temp.store
            .configure_site("acme", config)
            .await
            .unwrap()
            .unwrap();
        let configured = temp.store.site("acme").await.unwrap().unwrap();
        assert_eq!(configured.name, "Acme kitchens");
        assert_eq!(configured.config.categories[0].label, "Changed");
        assert!(Arc::ptr_eq(
            &configured,
            &temp.store.site("acme").await.unwrap().unwrap()
        ));
    }

    #[tokio::test]
    async fn a_read_that_raced_a_change_is_not_kept() {
        let temp = temp_store();
        let site = Arc::new(temp.store.add_site(new_site(&[])).await.unwrap());
        let cache = SiteCache::new();

        // Read before a change that is not yet committed: not kept.
        let Err(before) = cache.lookup("acme") else {
            panic!("nothing is kept yet")
        };
        cache.changed_uncommitted();
        cache.fill(before, &site);
        assert!(cache.lookup("acme").is_err());
        // Read while the change is uncommitted: it may be the old row.
        let Err(during) = cache.lookup("acme") else {
            panic!("nothing is kept")
        };
        cache.fill(during, &site);
        assert!(cache.lookup("acme").is_err());
        // Read before the commit, kept after it: no.
        cache.settle();
        cache.fill(during, &site);
        assert!(cache.lookup("acme").is_err());
        // Read after it: kept.
        let Err(after) = cache.lookup("acme") else {
            panic!("nothing is kept")
        };
        cache.fill(after, &site);
        assert!(cache.is_current(&site));
    }

    #[tokio::test]
    async fn a_complaint_judged_by_a_site_changed_since_is_refused_and_not_stored() {
        let temp = temp_store();
        temp.store.add_site(new_site(&[])).await.unwrap();
        let kept = temp.store.site("acme").await.unwrap().unwrap();

        // Another process changes the site; this store's writer never ran it.
        let path = temp.directory.path().join("heard.sqlite3");
        let elsewhere = Store::open(&path, 8, 8).unwrap();
        elsewhere
            .upsert_site(new_site(&["https://elsewhere.example"]))
            .await
            .unwrap();
        elsewhere.shutdown().await;

        let complaint = super::super::complaints::tests::complaint(kept.id, 1);
        let refused = temp
            .store
            .record_complaint_for(Arc::clone(&kept), complaint.clone())
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::SiteChanged), "{refused:?}");
        assert_eq!(
            temp.store.complaint_by_token_hash([1; 32]).await.unwrap(),
            None
        );

        let now = temp.store.site("acme").await.unwrap().unwrap();
        assert_eq!(now.allowed_origins, ["https://elsewhere.example"]);
        temp.store
            .record_complaint_for(now, complaint)
            .await
            .unwrap();
        assert!(
            temp.store
                .complaint_by_token_hash([1; 32])
                .await
                .unwrap()
                .is_some()
        );
    }
}
