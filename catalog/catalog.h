// The data the core reasons with (model presets, SKU catalogs), loaded from presets/ YAML files:
// the copies compiled into the binary by default, or a directory given by the user.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/presets/model_preset.h"
#include "core/presets/sku.h"

namespace ktwin::catalog {

struct Catalog {
  PresetRegistry presets;
  SkuCatalog skus;
};

class YamlDocument;

//! The `architecture` map of a model (layers, heads, KV heads, head_dim, FFN, vocabulary, experts, MLA
//! ranks, parameters, attention kind) at `ptr`, strictly checked. Throws InputError.
ModelArchitecture parse_architecture(const YamlDocument& doc, const std::string& ptr);
//! The inverse: every field of `a` under the names parse_architecture reads.
nlohmann::json architecture_json(const ModelArchitecture& a);

//! A generic `org/model` preset described in a scenario (KAITO v0.9+ synthesises these from config.json):
//! hf_id, weights_gib, architecture, optional max_position_embeddings, gated, parsers. Disk is weights +
//! 80 GiB and bytes/token comes from the architecture, as KAITO derives them. Throws InputError.
ModelPreset parse_generic_model(const YamlDocument& doc, const std::string& ptr);

//! The embedded catalog (or $KTWIN_PRESETS_DIR when set), loaded once. Throws InputError on bad data.
const Catalog& default_catalog();
//! Loads presets/models/*.yaml and presets/skus/*.yaml from `presets_dir`. Throws InputError.
Catalog load_catalog_dir(const std::string& presets_dir);

}  // namespace ktwin::catalog
