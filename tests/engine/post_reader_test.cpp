// Reading posts: JSONL lines and text files into posts; bad input counted, never fatal.
#include <catch2/catch.hpp>

#include "engine/post_reader.h"

using lodestone::LineOutcome;
using lodestone::Post;
using lodestone::PostReader;

TEST_CASE("a JSONL line becomes a post: string fields are matchable, others skipped", "[post_reader]") {
  PostReader reader;
  Post post;
  std::string err;
  REQUIRE(reader.parse_line(R"({"id": "M.1", "source": "ptt/Stock", "title": "稀土", "body": "b\nc",)"
                            R"( "places": ["usa", "china"], "score": 3, "meta": {"x": "y"}, "author": "z"})",
                            "file.jsonl", post, err) == LineOutcome::kPost);
  CHECK(post.id == "M.1");
  CHECK(post.source == "ptt/Stock");
  REQUIRE(post.fields().size() == 3);
  CHECK(post.field("title") == "稀土");
  CHECK(post.field("body") == "b\nc");
  CHECK(post.field("author") == "z");
  CHECK(post.field("places").empty());
}

TEST_CASE("a repeated key keeps its last value, so field names stay unique", "[post_reader]") {
  PostReader reader;
  Post post;
  std::string err;
  REQUIRE(reader.parse_line(R"({"body": "first", "title": "t", "body": "second"})", "s", post, err) ==
          LineOutcome::kPost);
  REQUIRE(post.fields().size() == 2);
  CHECK(post.field("body") == "second");
}

TEST_CASE("a number id is kept as written, a missing id is derived from the content", "[post_reader]") {
  PostReader reader;
  Post post;
  std::string err;
  REQUIRE(reader.parse_line(R"({"id": 12345, "body": "x"})", "src", post, err) == LineOutcome::kPost);
  CHECK(post.id == "12345");
  CHECK(post.source == "src");
  REQUIRE(reader.parse_line(R"({"body": "x", "url": "u"})", "src", post, err) == LineOutcome::kPost);
  std::string first = post.id;
  CHECK(first.size() == 32);
  REQUIRE(reader.parse_line(R"({"url": "u", "body": "x"})", "src", post, err) == LineOutcome::kPost);
  CHECK(post.id == first);
  REQUIRE(reader.parse_line(R"({"url": "u", "body": "y"})", "src", post, err) == LineOutcome::kPost);
  CHECK(post.id != first);
}

TEST_CASE("bad lines are classified and counted", "[post_reader]") {
  PostReader reader;
  Post post;
  std::string err;
  CHECK(reader.parse_line("not json", "s", post, err) == LineOutcome::kNotJson);
  CHECK(err.rfind("not JSON", 0) == 0);
  CHECK(reader.parse_line(R"({"body": "x"} trailing)", "s", post, err) == LineOutcome::kNotJson);
  CHECK(reader.parse_line(R"({"body": "x")", "s", post, err) == LineOutcome::kNotJson);
  CHECK(reader.parse_line("[1, 2]", "s", post, err) == LineOutcome::kNotObject);
  CHECK(reader.parse_line(R"({"id": "a", "url": "http://x", "n": 1})", "s", post, err) == LineOutcome::kNoText);
  CHECK(reader.parse_line(R"({"id": "a", "body": "   "})", "s", post, err) == LineOutcome::kNoText);
  CHECK(reader.parse_line("   ", "s", post, err) == LineOutcome::kBlank);
  CHECK(reader.parse_line(R"({"body": "fine"})", "s", post, err) == LineOutcome::kPost);
  const auto& c = reader.counts();
  CHECK(c.not_json == 3);
  CHECK(c.not_object == 1);
  CHECK(c.no_text == 2);
  CHECK(c.posts == 1);
}

TEST_CASE("invalid UTF-8 in a line is replaced by U+FFFD and the post kept", "[post_reader]") {
  PostReader reader;
  Post post;
  std::string err;
  REQUIRE(reader.parse_line("{\"body\": \"a\xff"
                            "b\"}",
                            "s", post, err) == LineOutcome::kPost);
  CHECK(post.field("body") ==
        "a\xef\xbf\xbd"
        "b");
  CHECK(reader.last_repaired());
  CHECK(reader.counts().repaired_utf8 == 1);
}

TEST_CASE("text past the size limit is cut at a character boundary", "[post_reader]") {
  PostReader reader(10);
  Post post;
  std::string err;
  REQUIRE(reader.parse_line(R"({"title": "稀土稀土", "body": "more text"})", "s", post, err) == LineOutcome::kPost);
  CHECK(post.field("title") == "稀土稀");  // 9 bytes; the next character would pass 10
  CHECK(post.field("body").empty());
  CHECK(reader.last_truncated());
  CHECK(reader.counts().truncated == 1);
}

TEST_CASE("a text file is one post: its path is the id, its contents the body", "[post_reader]") {
  PostReader reader;
  Post post;
  reader.text_post("notes/a.txt", "gallium\xff", "file", post);
  CHECK(post.id == "notes/a.txt");
  CHECK(post.field("body") == "gallium\xef\xbf\xbd");
  CHECK(reader.last_repaired());
}
