//! The upstream Locust shopper: its tasks, their weights, and the requests
//! each task makes.
//!
//! A shopper is a queue of planned requests. When the queue runs dry it picks
//! the next task by weight and plans that task's requests, so both the
//! closed-loop runner (think time between tasks) and the open-loop runner (one
//! scheduled slot per request) can drive the same behaviour.

use std::collections::VecDeque;

use rand::{Rng, rngs::StdRng};

use crate::{fake, stats::Route};

/// One of upstream's scheduled tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Task {
    /// GET `/`.
    Index,
    /// POST `/setCurrency` with a random currency.
    SetCurrency,
    /// GET a random product page.
    BrowseProduct,
    /// GET a product page, then POST it to the cart.
    AddToCart,
    /// GET `/cart`.
    ViewCart,
    /// Add to cart, then POST the checkout form.
    Checkout,
}

/// Upstream's weights: 1, 2, 10, 2, 3, 1 (19 in all).
pub const WEIGHTS: [(Task, u32); 6] = [
    (Task::Index, 1),
    (Task::SetCurrency, 2),
    (Task::BrowseProduct, 10),
    (Task::AddToCart, 2),
    (Task::ViewCart, 3),
    (Task::Checkout, 1),
];

/// A request ready to send, relative to the target's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The report row it counts under.
    pub route: Route,
    /// Path below the base URL, e.g. `/product/OLJCESPC7Z`.
    pub path: String,
    /// Form fields for a POST (url-encoded); empty for a GET.
    pub form: Vec<(&'static str, String)>,
}

impl Planned {
    /// `GET /`, the page `loadGeneratorFloodHomepage` floods.
    pub(crate) fn home() -> Self {
        Self::get(Route::Home, "/")
    }

    fn get(route: Route, path: impl Into<String>) -> Self {
        Self {
            route,
            path: path.into(),
            form: Vec::new(),
        }
    }

    fn post(route: Route, path: &str, form: Vec<(&'static str, String)>) -> Self {
        Self {
            route,
            path: path.to_owned(),
            form,
        }
    }
}

/// One simulated user's plan.
#[derive(Debug)]
pub struct Shopper {
    rng: StdRng,
    queue: VecDeque<Planned>,
    this_year: i32,
    /// `--page` mode: only these paths, in turn, from `next_page`.
    pages: Option<Pages>,
    /// `--task` mode: only these tasks (empty: upstream's whole mix).
    only: Vec<Task>,
}

/// The fixed paths of `--page` mode and where this user is in them.
#[derive(Debug)]
struct Pages {
    paths: std::sync::Arc<[&'static str]>,
    next: usize,
}

/// What comes next for a shopper.
#[derive(Debug)]
pub enum Next {
    /// The next request of the current task.
    Request(Planned),
    /// A new task starts with this request; a closed-loop user thinks first.
    NewTask(Planned),
}

impl Shopper {
    /// A shopper whose first task is upstream's `on_start`: the home page.
    pub fn new(rng: StdRng, this_year: i32) -> Self {
        let mut shopper = Self {
            rng,
            queue: VecDeque::with_capacity(3),
            this_year,
            pages: None,
            only: Vec::new(),
        };
        shopper.plan(Task::Index);
        shopper
    }

    /// A shopper that does only `tasks` (at least one), drawn by their
    /// upstream weights among themselves, with no `on_start`: `--task` mode,
    /// e.g. checkouts alone at a fixed rate to measure their latency.
    pub fn only(rng: StdRng, this_year: i32, tasks: &[Task]) -> Self {
        Self {
            rng,
            queue: VecDeque::with_capacity(3),
            this_year,
            pages: None,
            only: tasks.to_vec(),
        }
    }

    /// A user that only GETs `paths` (at least one), in turn, starting with
    /// `paths[start % len]` so that users spread over the paths: `--page`
    /// mode, a wrk-like single-page load (no `on_start`, no task mix). Each
    /// request is a new task, so a think time, if any, comes between requests.
    pub fn pages(rng: StdRng, paths: std::sync::Arc<[&'static str]>, start: usize) -> Self {
        Self {
            rng,
            queue: VecDeque::new(),
            this_year: 0,
            pages: Some(Pages { paths, next: start }),
            only: Vec::new(),
        }
    }

    /// The next request to make.
    pub fn next_request(&mut self) -> Next {
        if let Some(pages) = &mut self.pages
            && !pages.paths.is_empty()
        {
            let index = pages.next % pages.paths.len();
            pages.next = pages.next.wrapping_add(1);
            let path = pages.paths[index];
            let route = Route::Page {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                path,
            };
            return Next::NewTask(Planned::get(route, path));
        }
        if let Some(planned) = self.queue.pop_front() {
            return Next::Request(planned);
        }
        let task = if self.only.is_empty() {
            pick_task(&mut self.rng)
        } else {
            pick_task_of(&mut self.rng, &self.only)
        };
        self.plan(task);
        match self.queue.pop_front() {
            Some(planned) => Next::NewTask(planned),
            // Every task plans at least one request; fall back to the home page.
            None => Next::NewTask(Planned::get(Route::Home, "/")),
        }
    }

    /// A think time drawn uniformly from `min..=max`.
    pub fn think_time(
        &mut self,
        min: std::time::Duration,
        max: std::time::Duration,
    ) -> std::time::Duration {
        if max <= min {
            return min;
        }
        self.rng.random_range(min..=max)
    }

    fn plan(&mut self, task: Task) {
        let rng = &mut self.rng;
        match task {
            Task::Index => self.queue.push_back(Planned::get(Route::Home, "/")),
            Task::SetCurrency => self.queue.push_back(Planned::post(
                Route::SetCurrency,
                "/setCurrency",
                vec![("currency_code", fake::currency(rng).to_owned())],
            )),
            Task::BrowseProduct => self.queue.push_back(Planned::get(
                Route::Product,
                format!("/product/{}", fake::product(rng)),
            )),
            Task::ViewCart => self.queue.push_back(Planned::get(Route::ViewCart, "/cart")),
            Task::AddToCart => plan_add_to_cart(rng, &mut self.queue),
            Task::Checkout => {
                plan_add_to_cart(rng, &mut self.queue);
                let form = fake::checkout_form(rng, self.this_year);
                self.queue
                    .push_back(Planned::post(Route::Checkout, "/cart/checkout", form));
            }
        }
    }
}

fn plan_add_to_cart(rng: &mut StdRng, queue: &mut VecDeque<Planned>) {
    let product = fake::product(rng);
    queue.push_back(Planned::get(Route::Product, format!("/product/{product}")));
    queue.push_back(Planned::post(
        Route::AddToCart,
        "/cart",
        vec![
            ("product_id", product.to_owned()),
            ("quantity", fake::quantity(rng).to_string()),
        ],
    ));
}

/// A task drawn by upstream's weights.
pub fn pick_task(rng: &mut impl Rng) -> Task {
    pick_task_of(rng, &WEIGHTS.map(|(task, _)| task))
}

/// One of `tasks` (at least one), drawn by their upstream weights.
fn pick_task_of(rng: &mut impl Rng, tasks: &[Task]) -> Task {
    let weighted = || WEIGHTS.iter().filter(|(task, _)| tasks.contains(task));
    let total: u32 = weighted().map(|(_, weight)| weight).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for &(task, weight) in weighted() {
        if ticket < weight {
            return task;
        }
        ticket -= weight;
    }
    tasks.first().copied().unwrap_or(Task::BrowseProduct)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::SeedableRng;

    use super::*;

    #[test]
    fn tasks_follow_upstream_weights() {
        let mut rng = StdRng::seed_from_u64(11);
        let draws = 190_000;
        let mut counts: HashMap<Task, u32> = HashMap::new();
        for _ in 0..draws {
            *counts.entry(pick_task(&mut rng)).or_default() += 1;
        }
        for (task, weight) in WEIGHTS {
            let expected = f64::from(draws) * f64::from(weight) / 19.0;
            let got = f64::from(counts[&task]);
            assert!(
                (got - expected).abs() < expected * 0.05,
                "{task:?}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn starts_at_home_and_checkout_adds_to_cart_first() {
        let mut shopper = Shopper::new(StdRng::seed_from_u64(5), 2030);
        match shopper.next_request() {
            Next::Request(first) => assert_eq!(first.route, Route::Home),
            Next::NewTask(_) => panic!("on_start is already planned"),
        }
        shopper.queue.clear();
        shopper.plan(Task::Checkout);
        let routes: Vec<_> = shopper.queue.iter().map(|p| p.route).collect();
        assert_eq!(routes, [Route::Product, Route::AddToCart, Route::Checkout]);
        let product = shopper.queue[0]
            .path
            .trim_start_matches("/product/")
            .to_owned();
        assert!(fake::PRODUCTS.contains(&product.as_str()));
        let add = &shopper.queue[1];
        assert_eq!(add.form[0], ("product_id", product));
        let quantity: u32 = add.form[1].1.parse().unwrap();
        assert!((1..=10).contains(&quantity));
    }

    #[test]
    fn task_mode_does_only_its_tasks_and_skips_the_home_page_start() {
        let mut shopper = Shopper::only(StdRng::seed_from_u64(7), 2030, &[Task::Checkout]);
        let routes: Vec<_> = (0..30)
            .map(|_| match shopper.next_request() {
                Next::Request(planned) | Next::NewTask(planned) => planned.route,
            })
            .collect();
        let one = [Route::Product, Route::AddToCart, Route::Checkout];
        assert_eq!(routes, one.repeat(10));

        let mut rng = StdRng::seed_from_u64(8);
        let pair = [Task::Index, Task::BrowseProduct];
        let draws: Vec<_> = (0..1_100).map(|_| pick_task_of(&mut rng, &pair)).collect();
        assert!(draws.iter().all(|task| pair.contains(task)));
        // Weights 1 and 10 among themselves: about 100 home pages.
        let home = draws.iter().filter(|&&task| task == Task::Index).count();
        assert!((50..200).contains(&home), "{home}");
    }

    #[test]
    fn new_task_is_flagged_only_at_task_boundaries() {
        let mut shopper = Shopper::new(StdRng::seed_from_u64(6), 2030);
        assert!(matches!(shopper.next_request(), Next::Request(_)));
        for _ in 0..1_000 {
            match shopper.next_request() {
                Next::NewTask(_) => {}
                Next::Request(planned) => assert!(
                    matches!(planned.route, Route::AddToCart | Route::Checkout),
                    "only add-to-cart and checkout continue a task: {planned:?}"
                ),
            }
        }
    }
}
