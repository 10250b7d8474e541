// diagram -- the traffic paths the inventory describes, as pictures: clients -> views -> gateway ->
// Traefik -> services, raw-TCP paths beside them, each hop marked with the firewall's verdict.
#pragma once

#include <string>
#include <vector>

#include "firewall.hpp"
#include "model.hpp"

namespace phoenix::netgen {

/// diagram.mmd (Mermaid flowchart) and diagram.dot (Graphviz) describing the same graph.
std::vector<OutputFile> diagram_files(const Model& m, const FirewallModel& fw);

}  // namespace phoenix::netgen
