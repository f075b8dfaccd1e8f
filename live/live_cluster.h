// The Cluster port over a real Kubernetes API server: typed REST calls for every kind the core uses
// (status subresource, JSON merge patch, optimistic concurrency, pod binding) and informer-style
// watches (list, then watch from its resourceVersion with bookmarks; relist on 410 Gone or a dropped
// stream, delivering only real changes so no work is done twice).
#pragma once
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "core/ports.h"
#include "live/http_client.h"

namespace ktwin::live {

//! What one list of an informer saw: the list's resourceVersion and every object's "namespace/name".
struct InformerListing {
  std::string resource_version;
  std::set<std::string> keys;
};

struct LiveClusterOptions {
  //! Server-side timeout of one watch request; the informer re-watches from the last resourceVersion.
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds relist_backoff{1000};  //!< after a failed list or watch
};

class LiveCluster : public Cluster {
 public:
  explicit LiveCluster(std::shared_ptr<HttpClient> client, LiveClusterOptions options = {});

  Result<ObjectPtr> get(std::string_view kind, std::string_view ns, std::string_view name) override;
  Result<std::vector<ObjectPtr>> list(std::string_view kind, const ListOptions& opts = {}) override;
  Result<ObjectPtr> create(Object obj) override;
  Result<ObjectPtr> update(Object obj) override;
  Result<ObjectPtr> update_status(Object obj) override;
  Result<ObjectPtr> patch(std::string_view kind, std::string_view ns, std::string_view name, const json& merge_patch,
                          bool status = false) override;
  Status remove(std::string_view kind, std::string_view ns, std::string_view name,
                const DeleteOptions& opts = {}) override;
  Status bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) override;
  //! Events arrive on a thread of their own, one at a time, in the server's order.
  std::unique_ptr<WatchSubscription> watch(std::string_view kind, std::string_view ns, WatchHandler handler) override;
  //! watch(), and `on_listed` after every list once its differences have been delivered (on the watch's
  //! thread): the first call means synced; later ones follow relists (410 Gone, a refused watch).
  std::unique_ptr<WatchSubscription> informer(std::string_view kind, std::string_view ns, WatchHandler handler,
                                              std::function<void(const InformerListing&)> on_listed);

 private:
  std::shared_ptr<HttpClient> client_;
  LiveClusterOptions options_;
};

//! "/api/v1/namespaces/NS/pods[/NAME]" or "/apis/GROUP/VERSION/..." for a kind the core knows; empty `ns`
//! lists across namespaces. Returns "" for an unknown kind.
std::string resource_path(std::string_view kind, std::string_view ns, std::string_view name = "");

//! A failed API answer as the core's Error: 404 kNotFound, 409 kAlreadyExists/kConflict, 422/400 kInvalid,
//! 401/403 kForbidden, 410 kGone, 429 kTooManyRequests, 5xx and transport failures kUnavailable.
Error error_from_response(const HttpResponse& response, std::string_view what);

}  // namespace ktwin::live
