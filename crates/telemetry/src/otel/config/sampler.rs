//! Which spans are sampled: `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` over
//! `otel.traces_sampler` and `otel.traces_sampler_arg`.

use flowgate_config::OtelSettings;

use super::{
    OtelConfigError,
    values::{Env, first, key, var},
    vars,
};

/// Which spans are sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SamplerConfig {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
    ParentBased(ParentlessSampler),
}

/// What a parent-based sampler does for a root span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ParentlessSampler {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
}

/// The sampler and its argument, each from its variable or else its setting.
pub(super) fn resolve(
    settings: &OtelSettings,
    env: Env<'_>,
) -> Result<SamplerConfig, OtelConfigError> {
    let (name, name_source) = first([
        (var(env, vars::SAMPLER), vars::SAMPLER),
        (
            key(settings.traces_sampler.as_deref()),
            "otel.traces_sampler",
        ),
    ])
    .unwrap_or_else(|| ("parentbased_always_on".to_owned(), "default"));
    let arg = first([
        (var(env, vars::SAMPLER_ARG), vars::SAMPLER_ARG),
        (
            key(settings.traces_sampler_arg.as_deref()),
            "otel.traces_sampler_arg",
        ),
    ]);
    let ratio = || -> Result<f64, OtelConfigError> {
        let Some((arg, source)) = &arg else {
            return Ok(1.0);
        };
        arg.parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| {
                OtelConfigError::new(
                    *source,
                    format!("must be a number from 0 to 1, got {arg:?}"),
                )
            })
    };
    Ok(match name.to_ascii_lowercase().as_str() {
        "always_on" => SamplerConfig::AlwaysOn,
        "always_off" => SamplerConfig::AlwaysOff,
        "traceidratio" => SamplerConfig::Ratio(ratio()?),
        "parentbased_always_on" => SamplerConfig::ParentBased(ParentlessSampler::AlwaysOn),
        "parentbased_always_off" => SamplerConfig::ParentBased(ParentlessSampler::AlwaysOff),
        "parentbased_traceidratio" => {
            SamplerConfig::ParentBased(ParentlessSampler::Ratio(ratio()?))
        }
        other => {
            return Err(OtelConfigError::new(
                name_source,
                format!(
                    "unsupported sampler {other:?} (always_on, always_off, traceidratio, \
                     parentbased_always_on, parentbased_always_off, parentbased_traceidratio)"
                ),
            ));
        }
    })
}
