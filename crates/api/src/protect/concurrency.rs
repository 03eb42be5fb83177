//! Concurrency slots per client, so that one client cannot hold every slot of the process.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// Requests in flight per client, each at most `max`.
pub(crate) struct ClientSlots {
    max: usize,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

/// One request's slot; given back when dropped. Clients without requests in flight take no
/// memory.
pub(crate) struct ClientSlot {
    client: String,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

impl ClientSlots {
    /// At most `max` (> 0) requests in flight per client.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            in_flight: Arc::default(),
        }
    }

    /// A slot of `client`'s, or `None` while it has `max` in flight.
    pub(crate) fn acquire(&self, client: &str) -> Option<ClientSlot> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let count = in_flight.entry(client.to_owned()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            client: client.to_owned(),
            in_flight: self.in_flight.clone(),
        })
    }

    /// Clients with requests in flight.
    #[cfg(test)]
    fn clients(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = in_flight.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_at_most_max_slots_and_others_are_unaffected() {
        let slots = ClientSlots::new(2);
        let a1 = slots.acquire("a").unwrap();
        let _a2 = slots.acquire("a").unwrap();
        assert!(slots.acquire("a").is_none());
        let _b = slots
            .acquire("b")
            .expect("another client has its own slots");
        drop(a1);
        assert!(slots.acquire("a").is_some(), "a freed slot is usable again");
    }

    #[test]
    fn idle_clients_take_no_memory() {
        let slots = ClientSlots::new(1);
        for i in 0..1000 {
            drop(slots.acquire(&i.to_string()).unwrap());
        }
        assert_eq!(slots.clients(), 0);
    }
}
