// SHA-256 over OpenSSL's EVP interface, for ids that must be the same on every machine and run
// (alert ids, derived post ids) and for the database cache's key and checksum. Use one object
// from one thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace lodestone {

using Digest = std::array<unsigned char, 32>;

// Feed bytes with add(), then finish() once. Throws std::runtime_error when OpenSSL fails,
// which it does only when it cannot allocate.
class Sha256 {
 public:
  Sha256();
  Sha256& add(std::string_view bytes);
  Sha256& add_u32(uint32_t v);  // little-endian
  Sha256& add_u64(uint64_t v);
  Digest finish();

 private:
  struct CtxFree {
    void operator()(evp_md_ctx_st* c) const;
  };
  std::unique_ptr<evp_md_ctx_st, CtxFree> ctx_;
};

std::string_view as_chars(const Digest& d);
// Lower-case hex digits of every byte.
std::string to_hex(std::string_view bytes);

}  // namespace lodestone
