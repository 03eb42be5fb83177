//! The consistency check: what the Tiltfile asks Tilt to do against the real `Dockerfile` and the
//! chart as Tilt renders it. `problems` lists everything wrong, so a test can assert there is
//! nothing, or that a mutated Tiltfile is objected to.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use serde_json::{Map, Value};

use crate::{
    chart::k8s_objects,
    eval::{Evaluation, Forward, resource_name, str_of, strings},
    images::image_problems,
    objects::{
        WORKLOAD_KINDS, container_ports, describe, is_custom_resource, kind, name, namespace,
        selector_matches, selects,
    },
};

/// Everything wrong with what the Tiltfile asks Tilt to do (empty when it is right).
pub(crate) fn problems(python: &Path, eval: &Evaluation) -> anyhow::Result<Vec<String>> {
    let objects = k8s_objects(python, eval)?;

    // -- Images: real stages, a context with what cargo needs, substituted into the chart.
    let mut problems = image_problems(eval, &objects)?;

    // -- Resources: what Tilt assembles from the objects.
    let workloads: BTreeMap<&str, &Value> = objects
        .iter()
        .filter(|o| WORKLOAD_KINDS.contains(&kind(o)))
        .map(|o| (name(o), o))
        .collect();
    let releases: BTreeMap<&str, &Map<String, Value>> = eval
        .calls("helm_resource")
        .map(|p| (str_of(p, "name"), p))
        .collect();
    // object index -> resource
    let mut owner: BTreeMap<usize, String> = BTreeMap::new();
    for (i, object) in objects.iter().enumerate() {
        if WORKLOAD_KINDS.contains(&kind(object)) {
            owner.insert(i, name(object).to_owned());
        } else if kind(object) == "Service"
            && let Some(w) = workloads.values().find(|w| selects(object, w))
        {
            owner.insert(i, name(w).to_owned());
        }
    }
    let mut resources: BTreeSet<String> = workloads.keys().map(|w| (*w).to_owned()).collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut local_ports: BTreeMap<u16, String> = BTreeMap::new();
    let mut all_deps: Vec<(String, String)> = Vec::new();

    for params in eval.calls("k8s_resource") {
        let resource = resource_name(params).to_owned();
        let workload = str_of(params, "workload");
        if !workload.is_empty()
            && !workloads.contains_key(workload)
            && !releases.contains_key(workload)
        {
            problems.push(format!(
                "k8s_resource({workload:?}): no such workload is rendered (workloads: {:?})",
                workloads.keys().collect::<Vec<_>>()
            ));
        }
        for selector in strings(params, "objects") {
            let matching: Vec<usize> = objects
                .iter()
                .enumerate()
                .filter(|(_, o)| selector_matches(&selector, o))
                .map(|(i, _)| i)
                .collect();
            match matching.as_slice() {
                [i] => {
                    if let Some(previous) = owner.insert(*i, resource.clone()) {
                        problems.push(format!(
                            "{resource}: object selector {selector:?} takes {}, already in {previous}",
                            describe(&objects[*i])
                        ));
                    }
                }
                [] => problems.push(format!(
                    "{resource}: object selector {selector:?} matches no object"
                )),
                _ => problems.push(format!(
                    "{resource}: object selector {selector:?} matches several objects"
                )),
            }
        }
        resources.insert(resource.clone());
        for dep in strings(params, "resource_deps") {
            deps.entry(resource.clone())
                .or_default()
                .insert(dep.clone());
            all_deps.push((resource.clone(), dep));
        }
        for text in strings(params, "port_forwards") {
            let forward = Forward::parse(&text)?;
            if let Some(previous) = local_ports.insert(forward.local, resource.clone()) {
                problems.push(format!(
                    "local port {} is forwarded twice ({previous}, {resource})",
                    forward.local
                ));
            }
            if let Some(object) = workloads.get(workload) {
                let ports = container_ports(object);
                match forward.container {
                    None => problems.push(format!(
                        "{resource}: port-forward {text:?} names no container port (Tilt falls back to the first one)"
                    )),
                    Some(port) if !ports.contains_key(&u64::from(port)) => problems.push(format!(
                        "{resource}: port-forward {text:?}: {port} is not a containerPort of its pod ({:?})",
                        ports.keys().collect::<Vec<_>>()
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    for (name, params) in &releases {
        resources.insert((*name).to_owned());
        for dep in strings(params, "resource_deps") {
            deps.entry((*name).to_owned())
                .or_default()
                .insert(dep.clone());
            all_deps.push(((*name).to_owned(), dep));
        }
        for text in strings(params, "port_forwards") {
            let forward = Forward::parse(&text)?;
            if let Some(previous) = local_ports.insert(forward.local, (*name).to_owned()) {
                problems.push(format!(
                    "local port {} is forwarded twice ({previous}, {name})",
                    forward.local
                ));
            }
        }
    }
    let mut local_names = BTreeSet::new();
    for params in eval.calls("local_resource") {
        let name = str_of(params, "name");
        if !local_names.insert(name.to_owned()) || resources.contains(name) {
            problems.push(format!("resource name {name:?} is used twice"));
        }
        for dep in strings(params, "resource_deps") {
            all_deps.push((name.to_owned(), dep));
        }
    }
    resources.extend(local_names);
    for params in eval.calls("helm_repo") {
        let name = match str_of(params, "resource_name") {
            "" => str_of(params, "name"),
            name => name,
        };
        resources.insert(name.to_owned());
    }
    for (resource, dep) in &all_deps {
        if !resources.contains(dep) {
            problems.push(format!(
                "{resource}: resource_deps names {dep:?}, which is no resource"
            ));
        }
    }

    // -- Ordering: every object in a resource; namespaces and CRDs before what needs them.
    let depends_on = |resource: &str, target: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![resource.to_owned()];
        while let Some(next) = stack.pop() {
            if next == target {
                return true;
            }
            if seen.insert(next.clone()) {
                stack.extend(deps.get(&next).into_iter().flatten().cloned());
            }
        }
        false
    };
    for (i, object) in objects.iter().enumerate() {
        let Some(resource) = owner.get(&i) else {
            problems.push(format!(
                "{} is in no resource: Tilt would apply it in `uncategorized`, in parallel with \
                 the rest (give it to a k8s_resource(objects=...))",
                describe(object)
            ));
            continue;
        };
        if kind(object) == "Namespace" {
            for (j, other) in objects.iter().enumerate() {
                let Some(other_resource) = owner.get(&j) else {
                    continue;
                };
                if namespace(other) == name(object) && !depends_on(other_resource, resource) {
                    problems.push(format!(
                        "{} is in {other_resource}, which does not wait for {resource} (creating namespace {})",
                        describe(other),
                        name(object)
                    ));
                }
            }
        }
        if is_custom_resource(object) && !releases.keys().any(|r| depends_on(resource, r)) {
            problems.push(format!(
                "{} (a custom resource) is in {resource}, which waits for no release installing its CRD",
                describe(object)
            ));
        }
    }
    Ok(problems)
}

/// Fails the test with every problem of the Tiltfile, if it has any.
pub(crate) fn assert_no_problems(python: &Path, eval: &Evaluation) {
    let problems = problems(python, eval).expect("checks run");
    assert!(
        problems.is_empty(),
        "the Tiltfile is wrong:\n- {}",
        problems.join("\n- ")
    );
}
