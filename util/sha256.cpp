// SHA-256 over OpenSSL's EVP interface (see sha256.h), and the stable ids made with it (ids.h).
#include "util/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>

#include "util/ids.h"

namespace lodestone {

void Sha256::CtxFree::operator()(evp_md_ctx_st* c) const { EVP_MD_CTX_free(c); }

namespace {
// Fetched once: EVP_sha256() makes every EVP_DigestInit_ex look the algorithm up again, which
// cost more than hashing an alert id.
const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  const EVP_MD* md = sha256_md();
  if (!ctx_ || !md || EVP_DigestInit_ex(ctx_.get(), md, nullptr) != 1) throw std::runtime_error("SHA-256 failed");
}

Sha256& Sha256::add(std::string_view bytes) {
  if (EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()) != 1) throw std::runtime_error("SHA-256 failed");
  return *this;
}

Sha256& Sha256::add_u32(uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i) & 0xff);
  return add({b, sizeof b});
}

Sha256& Sha256::add_u64(uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i) & 0xff);
  return add({b, sizeof b});
}

Digest Sha256::finish() {
  Digest d{};
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), d.data(), &n) != 1 || n != d.size()) throw std::runtime_error("SHA-256 failed");
  return d;
}

std::string_view as_chars(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string sha256_hex32(std::initializer_list<std::string_view> parts) {
  std::string out;
  sha256_hex32(parts, out);
  return out;
}

// Alert ids are made once per alert, so the 32 digits are written in place rather than through
// to_hex (all 64 digits in a new string, then a copy of half of them).
void sha256_hex32(std::initializer_list<std::string_view> parts, std::string& out) {
  // The parts joined in one buffer take one EVP_DigestUpdate instead of two per part, which cost
  // about as much as hashing the bytes; longer input is added part by part.
  std::array<char, 256> joined;
  size_t size = 0;
  for (std::string_view part : parts) size += part.size() + 1;
  Sha256 h;
  if (size <= joined.size()) {
    char* at = joined.data();
    for (std::string_view part : parts) {
      at = std::copy(part.begin(), part.end(), at);
      *at++ = '\0';
    }
    h.add({joined.data(), size});
  } else {
    for (std::string_view part : parts) h.add(part).add(std::string_view("\0", 1));
  }
  const Digest d = h.finish();
  static constexpr char kDigits[] = "0123456789abcdef";
  out.resize(32);
  for (size_t i = 0; i < 16; ++i) {
    out[2 * i] = kDigits[d[i] >> 4];
    out[2 * i + 1] = kDigits[d[i] & 15];
  }
}

}  // namespace lodestone
