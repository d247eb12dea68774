// base64 through libcrypto (EVP_EncodeBlock, EVP_DecodeBlock).
#include "util/base64.h"

#include <openssl/evp.h>

namespace lodestone {

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

// EVP_DecodeBlock skips surrounding blanks and counts padding as zero bytes, so the alphabet is
// checked here and the padding taken off after.
std::optional<std::string> base64_decode(std::string_view text) {
  std::string padded(text);
  size_t pad = 0;
  while (pad < padded.size() && padded[padded.size() - 1 - pad] == '=') ++pad;
  if (pad > 2) return std::nullopt;
  for (size_t i = 0; i + pad < padded.size(); ++i) {
    const char c = padded[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return std::nullopt;
  }
  if (pad == 0) {
    if (padded.size() % 4 == 1) return std::nullopt;
    while (padded.size() % 4 != 0) {
      padded += '=';
      ++pad;
    }
  } else if (padded.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(padded.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace lodestone
