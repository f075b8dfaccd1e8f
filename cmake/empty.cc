// Keeps a module library non-empty before its first source file lands.
namespace ktwin::detail {
[[maybe_unused]] static int module_placeholder = 0;
}
