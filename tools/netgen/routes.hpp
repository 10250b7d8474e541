// routes -- the proxy configuration: Traefik's dynamic file (routers and services) and the Nginx
// gateway's server blocks, both from Model::routes(), so DNS and proxies name the same services.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model.hpp"

namespace phoenix::netgen {

/// Whether two routes claiming one Host() lead to the same place the same way: the same backend URL
/// and the same router settings (entry points, middlewares, TLS). Only then does it not matter which
/// of the two Traefik picks; otherwise the inventory contradicts itself.
bool routes_agree(const Route& a, const Route& b);

/// An error ("invalid-service") for each traefik_service key netgen does not know: a route written
/// without it could be another route than the one asked for. traefik refuses, check reports them.
std::vector<Finding> service_key_problems(const Model& m);

/// traefik-dynamic.yml: one router per HTTP route with Host() for its names in both zones, one
/// service per backend. Raw-TCP services are listed in a comment, never routed.
std::vector<OutputFile> traefik_files(const Model& m, std::vector<std::string>& warnings);

/// phoenix-gateway.conf, for Nginx's http{} context: one server block per external-zone name,
/// proxying to Traefik's web entry point.
/// TLS ends at the gateway: each route gets a 443 server block with its certificate, and port 80
/// keeps only ACME http-01 (proxied to Traefik, which also obtains certificates) and redirects the rest.
/// Certificates: <dir>/<first name>.crt and .key, where dir is `ssl_dir`, else the gateway guest's
/// mount point whose path ends in "/ssl", else /etc/nginx/ssl.
std::vector<OutputFile> nginx_files(const Model& m, std::vector<std::string>& warnings,
                                    const std::optional<std::string>& ssl_dir = std::nullopt);

/// The names of the external zone that point at the gateway and have a route (the gateway's server_names).
std::vector<std::string> gateway_names(const Model& m);

}  // namespace phoenix::netgen
