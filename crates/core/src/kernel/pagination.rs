//! Cursor pagination as WorkOS does it: `limit` 1–100 (default 10), `before`/`after`
//! object-id cursors, `order` asc, desc (default) or normal.

use serde::Serialize;

/// Sort direction requested by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
    /// Newest first, with `before` fetching older records and `after` newer ones.
    Normal,
}

impl Order {
    /// Parses the query value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "asc" => Some(Order::Asc),
            "desc" => Some(Order::Desc),
            "normal" => Some(Order::Normal),
            _ => None,
        }
    }
}

/// A validated page request.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// 1 to 100.
    pub limit: u32,
    /// Return items that come before this id in list order.
    pub before: Option<String>,
    /// Return items that come after this id in list order.
    pub after: Option<String>,
    /// Sort direction.
    pub order: Order,
}

/// What a store needs to run a keyset query on the id column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysetQuery {
    /// `Some((">", id))` or `Some(("<", id))`: the bound on id.
    pub bound: Option<(&'static str, String)>,
    /// Whether the SQL scans ascending by id.
    pub scan_ascending: bool,
    /// Rows to fetch: the limit plus one to learn whether more remain.
    pub fetch: u32,
    /// Whether the fetched rows must be reversed to reach list order.
    pub reverse: bool,
}

impl PageRequest {
    /// The keyset query for this request. Ids are ULIDs, so id order is creation order.
    pub fn keyset(&self) -> KeysetQuery {
        // List order is ascending for `asc`, descending for `desc` and `normal`.
        let list_ascending = self.order == Order::Asc;
        // Which cursor moves forward in list order: `normal` swaps their meaning.
        let (forward, backward) = match self.order {
            Order::Normal => (self.before.clone(), self.after.clone()),
            _ => (self.after.clone(), self.before.clone()),
        };
        let fetch = self.limit + 1;
        if let Some(id) = backward {
            // Walk against list order from the cursor, then flip the rows back.
            let op = if list_ascending { "<" } else { ">" };
            KeysetQuery { bound: Some((op, id)), scan_ascending: !list_ascending, fetch, reverse: true }
        } else {
            let bound = forward.map(|id| (if list_ascending { ">" } else { "<" }, id));
            KeysetQuery { bound, scan_ascending: list_ascending, fetch, reverse: false }
        }
    }

    /// Turns the rows a store fetched for [`Self::keyset`] into a page.
    pub fn page<T: HasId>(&self, q: &KeysetQuery, mut rows: Vec<T>) -> Page<T> {
        let more = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        if q.reverse {
            rows.reverse();
        }
        let first = rows.first().map(|r| r.id().to_owned());
        let last = rows.last().map(|r| r.id().to_owned());
        let (before, after) = if q.reverse {
            // Fetched backwards from a cursor: the cursor's side follows the page.
            (if more { first } else { None }, last)
        } else {
            let had_cursor = q.bound.is_some();
            (if had_cursor { first } else { None }, if more { last } else { None })
        };
        Page { data: rows, before, after }
    }
}

/// Anything listed by id.
pub trait HasId {
    /// The object's id.
    fn id(&self) -> &str;
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, in list order.
    pub data: Vec<T>,
    /// Cursor for the items before this page, if any.
    pub before: Option<String>,
    /// Cursor for the items after this page, if any.
    pub after: Option<String>,
}

impl<T> Page<T> {
    /// Maps the items, keeping the cursors.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { data: self.data.into_iter().map(f).collect(), before: self.before, after: self.after }
    }
}

/// The wire envelope: `{"object":"list","data":[…],"list_metadata":{"before","after"}}`.
#[derive(Debug, Serialize)]
pub struct ListEnvelope<T: Serialize> {
    /// Always `list`.
    pub object: &'static str,
    /// The items.
    pub data: Vec<T>,
    /// The cursors, both present and nullable.
    pub list_metadata: ListMetadata,
}

/// The cursors of a list page.
#[derive(Debug, Serialize)]
pub struct ListMetadata {
    /// Cursor to the previous page.
    pub before: Option<String>,
    /// Cursor to the next page.
    pub after: Option<String>,
}

impl<T: Serialize> From<Page<T>> for ListEnvelope<T> {
    fn from(p: Page<T>) -> Self {
        ListEnvelope { object: "list", data: p.data, list_metadata: ListMetadata { before: p.before, after: p.after } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R(String);
    impl HasId for R {
        fn id(&self) -> &str {
            &self.0
        }
    }

    /// Runs a page request over an in-memory sorted list the way a store would.
    fn run(all: &[&str], req: &PageRequest) -> Page<R> {
        let q = req.keyset();
        let mut rows: Vec<&str> = all
            .iter()
            .copied()
            .filter(|id| match &q.bound {
                Some((">", c)) => *id > c.as_str(),
                Some(("<", c)) => *id < c.as_str(),
                _ => true,
            })
            .collect();
        rows.sort();
        if !q.scan_ascending {
            rows.reverse();
        }
        rows.truncate(q.fetch as usize);
        req.page(&q, rows.into_iter().map(|s| R(s.to_string())).collect())
    }

    fn ids(p: &Page<R>) -> Vec<&str> {
        p.data.iter().map(|r| r.0.as_str()).collect()
    }

    const ALL: [&str; 5] = ["a", "b", "c", "d", "e"];

    #[test]
    fn desc_walks_forward_with_after_and_back_with_before() {
        let mut req = PageRequest { limit: 2, ..Default::default() };
        let p1 = run(&ALL, &req);
        assert_eq!(ids(&p1), ["e", "d"]);
        assert_eq!((p1.before.as_deref(), p1.after.as_deref()), (None, Some("d")));
        req.after = p1.after.clone();
        let p2 = run(&ALL, &req);
        assert_eq!(ids(&p2), ["c", "b"]);
        assert_eq!((p2.before.as_deref(), p2.after.as_deref()), (Some("c"), Some("b")));
        req.after = p2.after.clone();
        let p3 = run(&ALL, &req);
        assert_eq!(ids(&p3), ["a"]);
        assert_eq!(p3.after, None);
        // Back from the middle page: the items just before "c" in list order.
        let back = run(&ALL, &PageRequest { limit: 2, before: Some("c".into()), ..Default::default() });
        assert_eq!(ids(&back), ["e", "d"]);
        assert_eq!(back.before, None);
        assert_eq!(back.after.as_deref(), Some("d"));
    }

    #[test]
    fn asc_and_normal_orders() {
        let asc =
            run(&ALL, &PageRequest { limit: 2, after: Some("b".into()), order: Order::Asc, ..Default::default() });
        assert_eq!(ids(&asc), ["c", "d"]);
        let back =
            run(&ALL, &PageRequest { limit: 2, before: Some("d".into()), order: Order::Asc, ..Default::default() });
        assert_eq!(ids(&back), ["b", "c"]);
        assert_eq!(back.before.as_deref(), Some("b"));
        // normal: descending, `after` fetches newer records.
        let newer =
            run(&ALL, &PageRequest { limit: 2, after: Some("b".into()), order: Order::Normal, ..Default::default() });
        assert_eq!(ids(&newer), ["d", "c"]);
        let older =
            run(&ALL, &PageRequest { limit: 2, before: Some("d".into()), order: Order::Normal, ..Default::default() });
        assert_eq!(ids(&older), ["c", "b"]);
    }

    #[test]
    fn every_item_exactly_once_in_both_orders() {
        let all: Vec<String> = (0..53).map(|i| format!("id{i:03}")).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        for order in [Order::Asc, Order::Desc] {
            let mut seen = Vec::new();
            let mut req = PageRequest { limit: 10, order, ..Default::default() };
            loop {
                let p = run(&refs, &req);
                seen.extend(ids(&p).into_iter().map(str::to_owned));
                match p.after {
                    Some(a) => req.after = Some(a),
                    None => break,
                }
            }
            let mut sorted = seen.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 53);
            assert_eq!(seen.len(), 53);
        }
    }
}
