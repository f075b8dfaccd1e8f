// The data the core reasons with (model presets, SKU catalogs), loaded from presets/ YAML files:
// the copies compiled into the binary by default, or a directory given by the user.
#pragma once
#include <string>

#include "core/presets/model_preset.h"
#include "core/presets/sku.h"

namespace ktwin::catalog {

struct Catalog {
  PresetRegistry presets;
  SkuCatalog skus;
};

//! The embedded catalog (or $KTWIN_PRESETS_DIR when set), loaded once. Throws InputError on bad data.
const Catalog& default_catalog();
//! Loads presets/models/*.yaml and presets/skus/*.yaml from `presets_dir`. Throws InputError.
Catalog load_catalog_dir(const std::string& presets_dir);

}  // namespace ktwin::catalog
