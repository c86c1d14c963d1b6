// Small builders for the services' Prometheus metrics: one labelled series of a new family.
#pragma once

#include <string>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace mcsink {

// Registers counter family `name` and returns its series for `labels`.
inline prometheus::Counter& AddCounter(prometheus::Registry& registry, const std::string& name,
                                       const std::string& help, const prometheus::Labels& labels) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add(labels);
}

// Registers gauge family `name` and returns its series for `labels`.
inline prometheus::Gauge& AddGauge(prometheus::Registry& registry, const std::string& name,
                                   const std::string& help, const prometheus::Labels& labels) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add(labels);
}

}  // namespace mcsink
