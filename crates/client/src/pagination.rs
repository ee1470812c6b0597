//! List envelopes and a paginator that follows `list_metadata.after` one page at a time.

use crate::{Client, Error, Request};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;

/// A list envelope: `{"object":"list","data":[…],"list_metadata":{"before","after"}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    /// This page's items.
    pub data: Vec<T>,
    /// Cursors; absent on unpaginated lists such as roles.
    #[serde(default)]
    pub list_metadata: ListMetadata,
}

/// The cursors of a list page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListMetadata {
    /// Set when items precede this page.
    #[serde(default)]
    pub before: Option<String>,
    /// Set when more items follow this page.
    #[serde(default)]
    pub after: Option<String>,
}

/// Walks a list endpoint page by page, holding at most one page in memory.
///
/// Stops on an empty page, a null `after`, or a cursor that does not move.
pub struct Paginator<T> {
    client: Client,
    request: Request,
    after: Option<String>,
    buffer: VecDeque<T>,
    done: bool,
}

impl<T: DeserializeOwned> Paginator<T> {
    /// Starts at the page `request` names (its own `after`, if any, is the starting cursor).
    pub(crate) fn new(client: Client, mut request: Request) -> Self {
        // `before` would walk backwards; following `after` means starting fresh from it.
        request.query.retain(|(k, _)| k != "before");
        let after = request.take_query("after");
        Paginator { client, request, after, buffer: VecDeque::new(), done: false }
    }

    /// The next page's items, or `None` when the list is exhausted.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, Error> {
        if self.done {
            return Ok(None);
        }
        let mut request = self.request.clone();
        if let Some(after) = &self.after {
            request = request.query("after", after);
        }
        let page: List<T> = self.client.send(&request).await?.json()?;
        let next = page.list_metadata.after;
        self.done = page.data.is_empty() || next.is_none() || next == self.after;
        self.after = next;
        Ok((!page.data.is_empty()).then_some(page.data))
    }

    /// The next item, fetching the next page when this one is used up.
    pub async fn next(&mut self) -> Result<Option<T>, Error> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Ok(Some(item));
            }
            match self.next_page().await? {
                Some(items) => self.buffer.extend(items),
                None => return Ok(None),
            }
        }
    }
}
