#include "live/live_cluster.h"

#include <curl/curl.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace ktwin::live {
namespace {

std::string url_escape(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

std::string collection_base(const ResourceInfo& info) {
  return info.group.empty() ? "/api/" + std::string(info.version)
                            : "/apis/" + std::string(info.group) + "/" + std::string(info.version);
}

// An object from the server; list items carry no kind or apiVersion, so the caller's kind fills them.
ObjectPtr object_of(json j, const ResourceInfo& info) {
  if (!j.contains("kind")) j["kind"] = std::string(info.kind);
  if (!j.contains("apiVersion")) j["apiVersion"] = api_version_of(info);
  return std::make_shared<Object>(object_from_json(j));
}

Result<ObjectPtr> parse_object(const std::string& body, const ResourceInfo& info) {
  try {
    return object_of(json::parse(body), info);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, std::string("unreadable ") + std::string(info.kind) + ": " + e.what());
  }
}

Error unknown_kind(std::string_view kind) {
  return make_error(ErrorCode::kInvalid, "kind " + std::string(kind) + " is not served by this client");
}

// A watch running on its own thread until stopped.
class InformerWatch : public WatchSubscription {
 public:
  InformerWatch(std::shared_ptr<HttpClient> client, const ResourceInfo& info, std::string ns, WatchHandler handler,
                LiveClusterOptions options, std::function<void(const InformerListing&)> on_listed)
      : client_(std::move(client)),
        info_(info),
        ns_(std::move(ns)),
        handler_(std::move(handler)),
        on_listed_(std::move(on_listed)),
        options_(options) {
    thread_ = std::thread([this] { run(); });
  }
  ~InformerWatch() override {
    stop();
    thread_.join();
  }
  void stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }

 private:
  struct Known {
    std::string resource_version;
    ObjectPtr object;
  };

  static std::string key(const Object& o) { return o.meta.namespace_ + "/" + o.meta.name; }

  // Sleeps unless stopped first; false when stopped.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_for(lock, d, [this] { return stopped_.load(); });
  }

  void deliver(WatchEventType type, ObjectPtr obj) {
    if (!stopped_) handler_(WatchEvent{type, std::move(obj)});
  }

  // Lists and delivers the difference from what was delivered before: nothing twice.
  bool relist() {
    const HttpResponse r = client_->request("GET", resource_path(info_.kind, ns_));
    if (!r.ok()) return false;
    json list;
    try {
      list = json::parse(r.body);
    } catch (const json::exception&) {
      return false;  // a truncated answer: list again
    }
    if (!list.contains("items") || !list["items"].is_array()) return false;
    std::map<std::string, Known> now;
    for (const auto& item : list["items"]) {
      ObjectPtr obj;
      try {
        obj = object_of(item, info_);
      } catch (const std::exception&) {
        continue;
      }
      now[key(*obj)] = Known{obj->meta.resource_version, obj};
    }
    for (const auto& [k, was] : known_)
      if (!now.contains(k)) deliver(WatchEventType::kDeleted, was.object);
    for (const auto& [k, is] : now) {
      auto it = known_.find(k);
      if (it == known_.end())
        deliver(WatchEventType::kAdded, is.object);
      else if (it->second.resource_version != is.resource_version)
        deliver(WatchEventType::kModified, is.object);
    }
    known_ = std::move(now);
    resource_version_ = list.contains("metadata") ? list["metadata"].value("resourceVersion", "") : "";
    return true;
  }

  // One watch request; returns false when the informer must relist (410 Gone or an unusable stream).
  bool watch_once() {
    bool gone = false;
    const std::string path = resource_path(info_.kind, ns_) + "?watch=true&allowWatchBookmarks=true" +
                             "&timeoutSeconds=" + std::to_string(options_.watch_timeout.count()) +
                             (resource_version_.empty() ? "" : "&resourceVersion=" + url_escape(resource_version_));
    const HttpResponse r = client_->stream(
        path,
        [&](std::string_view line) {
          json ev;
          try {
            ev = json::parse(line);
          } catch (const json::exception&) {
            gone = true;  // a torn event: start over from a list rather than guess
            return false;
          }
          const std::string type = ev.value("type", "");
          if (!ev.contains("object") || !ev["object"].is_object()) return true;
          const json& o = ev["object"];
          if (type == "ERROR") {
            gone = o.value("code", 0) == 410 || o.value("reason", "") == "Expired" || o.value("reason", "") == "Gone";
            return false;
          }
          const std::string rv = o.contains("metadata") ? o["metadata"].value("resourceVersion", "") : "";
          if (type == "BOOKMARK") {
            resource_version_ = rv;
            return !stopped_;
          }
          ObjectPtr obj;
          try {
            obj = object_of(o, info_);
          } catch (const std::exception&) {
            return true;
          }
          resource_version_ = rv;
          const std::string k = key(*obj);
          if (type == "DELETED") {
            if (known_.erase(k) > 0) deliver(WatchEventType::kDeleted, obj);
          } else if (type == "ADDED" || type == "MODIFIED") {
            auto it = known_.find(k);
            // Replays of what a relist already delivered are dropped.
            if (it != known_.end() && it->second.resource_version == rv) return !stopped_;
            deliver(it == known_.end() ? WatchEventType::kAdded : WatchEventType::kModified, obj);
            known_[k] = Known{rv, obj};
          }
          return !stopped_;
        },
        options_.watch_timeout + std::chrono::seconds(30), &stopped_);
    if (r.status == 410) return false;
    if (gone) return false;
    if (!r.ok() && !stopped_) {
      pause(options_.relist_backoff);
      // Unreachable (status 0): watch again from the last resourceVersion. Refused (e.g. 403, 500):
      // relist, which delivers only differences, in case the watch itself is what the server rejects.
      return r.status == 0;
    }
    return true;
  }

  void run() {
    bool listed = false;
    while (!stopped_) {
      if (!listed) {
        listed = relist();
        if (listed && on_listed_) {
          InformerListing listing{resource_version_, {}};
          for (const auto& [k, known] : known_) listing.keys.insert(listing.keys.end(), k);
          on_listed_(listing);
        }
        if (!listed && !pause(options_.relist_backoff)) return;
        continue;
      }
      listed = watch_once();
    }
  }

  std::shared_ptr<HttpClient> client_;
  const ResourceInfo& info_;
  std::string ns_;
  WatchHandler handler_;
  std::function<void(const InformerListing&)> on_listed_;  // after every list was delivered
  LiveClusterOptions options_;
  std::map<std::string, Known> known_;
  std::string resource_version_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace

std::string resource_path(std::string_view kind, std::string_view ns, std::string_view name) {
  const ResourceInfo* info = resource_info(kind);
  if (!info) return "";
  std::string p = collection_base(*info);
  if (info->namespaced && !ns.empty()) p += "/namespaces/" + std::string(ns);
  p += "/" + std::string(info->plural);
  if (!name.empty()) p += "/" + std::string(name);
  return p;
}

Error error_from_response(const HttpResponse& r, std::string_view what) {
  std::string message, reason;
  try {
    const json s = json::parse(r.body);
    message = s.value("message", "");
    reason = s.value("reason", "");
  } catch (const json::exception&) {
  }
  if (message.empty()) message = r.status == 0 ? r.error : "HTTP " + std::to_string(r.status);
  message = std::string(what) + ": " + message;
  ErrorCode code = ErrorCode::kInternal;
  switch (r.status) {
    case 0:
      code = r.error.find("imeout") != std::string::npos || r.error.find("timed out") != std::string::npos
                 ? ErrorCode::kTimeout
                 : ErrorCode::kUnavailable;
      break;
    case 400:
    case 422:
      code = ErrorCode::kInvalid;
      break;
    case 401:
    case 403:
      code = ErrorCode::kForbidden;
      break;
    case 404:
      code = ErrorCode::kNotFound;
      break;
    case 409:
      code = reason == "AlreadyExists" ? ErrorCode::kAlreadyExists : ErrorCode::kConflict;
      break;
    case 410:
      code = ErrorCode::kGone;
      break;
    case 429:
      code = ErrorCode::kTooManyRequests;
      break;
    case 504:
      code = ErrorCode::kTimeout;
      break;
    default:
      if (r.status >= 500) code = ErrorCode::kUnavailable;
  }
  Error e = make_error(code, message, reason);
  if (auto wait = parse_retry_after(r.retry_after)) e.retry_after_seconds = static_cast<int>(wait->count() / 1000);
  return e;
}

LiveCluster::LiveCluster(std::shared_ptr<HttpClient> client, LiveClusterOptions options)
    : client_(std::move(client)), options_(options) {}

Result<ObjectPtr> LiveCluster::get(std::string_view kind, std::string_view ns, std::string_view name) {
  const ResourceInfo* info = resource_info(kind);
  if (!info) return unknown_kind(kind);
  const HttpResponse r = client_->request("GET", resource_path(kind, ns, name));
  if (!r.ok()) return error_from_response(r, "get " + std::string(kind) + " " + std::string(name));
  return parse_object(r.body, *info);
}

Result<std::vector<ObjectPtr>> LiveCluster::list(std::string_view kind, const ListOptions& opts) {
  const ResourceInfo* info = resource_info(kind);
  if (!info) return unknown_kind(kind);
  std::string path = resource_path(kind, opts.namespace_);
  if (opts.selector && !opts.selector->empty()) path += "?labelSelector=" + url_escape(opts.selector->to_string());
  const HttpResponse r = client_->request("GET", path);
  if (!r.ok()) return error_from_response(r, "list " + std::string(info->plural));
  std::vector<ObjectPtr> out;
  try {
    const json list = json::parse(r.body);
    for (const auto& item : list.at("items")) out.push_back(object_of(item, *info));
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, "unreadable " + std::string(info->plural) + " list: " + e.what());
  }
  return out;
}

Result<ObjectPtr> LiveCluster::create(Object obj) {
  const ResourceInfo* info = resource_info(obj.kind);
  if (!info) return unknown_kind(obj.kind);
  obj.meta.resource_version.clear();  // the server assigns it; a stale one would be rejected
  const HttpResponse r = client_->request("POST", resource_path(obj.kind, obj.meta.namespace_), to_json(obj).dump());
  if (!r.ok()) return error_from_response(r, "create " + obj.kind + " " + obj.meta.name);
  return parse_object(r.body, *info);
}

Result<ObjectPtr> LiveCluster::update(Object obj) {
  const ResourceInfo* info = resource_info(obj.kind);
  if (!info) return unknown_kind(obj.kind);
  const HttpResponse r =
      client_->request("PUT", resource_path(obj.kind, obj.meta.namespace_, obj.meta.name), to_json(obj).dump());
  if (!r.ok()) return error_from_response(r, "update " + obj.kind + " " + obj.meta.name);
  return parse_object(r.body, *info);
}

Result<ObjectPtr> LiveCluster::update_status(Object obj) {
  const ResourceInfo* info = resource_info(obj.kind);
  if (!info) return unknown_kind(obj.kind);
  // Kinds without a status subresource keep status in the main resource.
  const std::string path =
      resource_path(obj.kind, obj.meta.namespace_, obj.meta.name) + (info->status_subresource ? "/status" : "");
  const HttpResponse r = client_->request("PUT", path, to_json(obj).dump());
  if (!r.ok()) return error_from_response(r, "update status of " + obj.kind + " " + obj.meta.name);
  return parse_object(r.body, *info);
}

Result<ObjectPtr> LiveCluster::patch(std::string_view kind, std::string_view ns, std::string_view name,
                                     const json& merge_patch, bool status) {
  const ResourceInfo* info = resource_info(kind);
  if (!info) return unknown_kind(kind);
  const std::string path = resource_path(kind, ns, name) + (status && info->status_subresource ? "/status" : "");
  const HttpResponse r = client_->request("PATCH", path, merge_patch.dump(), "application/merge-patch+json");
  if (!r.ok()) return error_from_response(r, "patch " + std::string(kind) + " " + std::string(name));
  return parse_object(r.body, *info);
}

Status LiveCluster::remove(std::string_view kind, std::string_view ns, std::string_view name,
                           const DeleteOptions& opts) {
  if (!resource_info(kind)) return unknown_kind(kind);
  json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (opts.grace_period_seconds) body["gracePeriodSeconds"] = *opts.grace_period_seconds;
  if (!opts.precondition_uid.empty()) body["preconditions"] = {{"uid", opts.precondition_uid}};
  body["propagationPolicy"] = opts.propagation == Propagation::kForeground ? "Foreground"
                              : opts.propagation == Propagation::kOrphan   ? "Orphan"
                                                                           : "Background";
  const HttpResponse r = client_->request("DELETE", resource_path(kind, ns, name), body.dump());
  if (!r.ok()) return error_from_response(r, "delete " + std::string(kind) + " " + std::string(name));
  return {};
}

Status LiveCluster::bind_pod(std::string_view ns, std::string_view name, std::string_view node_name) {
  const json binding = {{"apiVersion", "v1"},
                        {"kind", "Binding"},
                        {"metadata", {{"name", std::string(name)}, {"namespace", std::string(ns)}}},
                        {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", std::string(node_name)}}}};
  const HttpResponse r = client_->request("POST", resource_path("Pod", ns, name) + "/binding", binding.dump());
  if (!r.ok()) return error_from_response(r, "bind pod " + std::string(name));
  return {};
}

std::unique_ptr<WatchSubscription> LiveCluster::watch(std::string_view kind, std::string_view ns,
                                                      WatchHandler handler) {
  return informer(kind, ns, std::move(handler), nullptr);
}

std::unique_ptr<WatchSubscription> LiveCluster::informer(std::string_view kind, std::string_view ns,
                                                         WatchHandler handler,
                                                         std::function<void(const InformerListing&)> on_listed) {
  const ResourceInfo* info = resource_info(kind);
  if (!info) return nullptr;
  return std::make_unique<InformerWatch>(client_, *info, std::string(ns), std::move(handler), options_,
                                         std::move(on_listed));
}

}  // namespace ktwin::live
