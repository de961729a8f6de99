#include "auto_updates/apt_config.hpp"

#include <algorithm>
#include <cctype>

#include "core/text.hpp"

namespace postured::checks {
namespace {

constexpr const char* kPartsDir = "/etc/apt/apt.conf.d";
constexpr const char* kMainFile = "/etc/apt/apt.conf";

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// True if `pos` in `line` is outside a quoted string (an even number of quotes before it), as apt decides.
bool outside_quotes(std::string_view line, std::size_t pos) {
  return std::count(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(pos), '"') % 2 == 0;
}

// Cuts `line` at the first "//" or "#" comment outside quotes. "#clear" and "#include" are directives.
std::string_view strip_line_comment(std::string_view line) {
  for (std::size_t start = 0; (start = line.find("//", start)) != std::string_view::npos; ++start) {
    if (outside_quotes(line, start)) {
      line = line.substr(0, start);
      break;
    }
  }
  for (std::size_t start = 0; (start = line.find('#', start)) != std::string_view::npos; ++start) {
    const auto rest = line.substr(start + 1);
    const bool directive =
        rest.starts_with("clear") || rest.starts_with("include") || rest.starts_with("x-apt-configure-index");
    if (!directive && outside_quotes(line, start)) {
      line = line.substr(0, start);
      break;
    }
  }
  return line;
}

// Takes the next whitespace-separated word off `rest`, dropping its quotes ("a b" stays one word).
bool take_word(std::string_view& rest, std::string& word) {
  word.clear();
  std::size_t i = 0;
  while (i < rest.size() && is_space(rest[i])) ++i;
  if (i == rest.size()) {
    rest = {};
    return false;
  }
  bool quoted = false;
  for (; i < rest.size() && (quoted || !is_space(rest[i])); ++i) {
    if (rest[i] == '"') {
      quoted = !quoted;
    } else {
      word += rest[i];
    }
  }
  while (i < rest.size() && is_space(rest[i])) ++i;
  rest.remove_prefix(i);
  return true;
}

bool under(const std::string& key, const std::string& tree) {
  return key == tree ||
         (key.size() > tree.size() + 2 && key.starts_with(tree) && key.compare(tree.size(), 2, "::") == 0);
}

// "#clear tree": apt erases the item and everything below it.
void clear_tree(AptConfig& config, const std::string& tree) {
  std::erase_if(config.values, [&](const auto& entry) { return under(entry.first, tree); });
  std::erase_if(config.lists, [&](const auto& entry) { return under(entry.first, tree); });
}

class AptParser {
 public:
  AptParser(const std::string& file, AptConfig& config) : file_(file), config_(config) {}

  void parse(std::string_view content) {
    int number = 0;
    for (const auto raw : text::lines(content)) {
      ++number;
      if (!parse_line(raw, number)) return;
    }
    if (!text::trim(statement_).empty()) fail(number, "statement without ';' at end of file");
  }

 private:
  bool parse_line(std::string_view raw, int number) {
    auto line = text::trim(raw);
    if (in_comment_) {
      const auto end = line.find("*/");
      if (end == std::string_view::npos) return true;
      line = line.substr(end + 2);
      in_comment_ = false;
    }
    line = strip_line_comment(line);
    // Drop /* ... */ outside quotes; an unclosed one runs on to the next lines.
    std::string fragment;
    for (std::size_t start = 0; (start = line.find("/*", start)) != std::string_view::npos;) {
      if (!outside_quotes(line, start)) {
        start += 2;
        continue;
      }
      fragment.append(line.substr(0, start));
      const auto end = line.find("*/", start + 2);
      if (end == std::string_view::npos) {
        line = {};
        in_comment_ = true;
        break;
      }
      line = line.substr(end + 2);
      start = 0;
    }
    fragment.append(line);

    bool quoted = false;
    std::size_t begin = 0;
    for (std::size_t i = 0; i < fragment.size(); ++i) {
      const char c = fragment[i];
      if (c == '"') quoted = !quoted;
      if (quoted || (c != '{' && c != ';' && c != '}')) continue;
      append_to_statement(std::string_view(fragment).substr(begin, i - begin));
      begin = i + 1;
      if (!finish_statement(c, number)) return false;
    }
    append_to_statement(std::string_view(fragment).substr(begin));
    return true;
  }

  void append_to_statement(std::string_view piece) {
    piece = text::trim(piece);
    if (piece.empty()) return;
    if (!statement_.empty()) statement_ += ' ';
    statement_ += piece;
  }

  // Handles the statement collected so far, which `terminator` ('{', ';' or '}') ended.
  bool finish_statement(char terminator, int number) {
    std::string_view rest = statement_;
    std::string tag, word;
    const bool has_tag = take_word(rest, tag);
    const bool has_word = has_tag && take_word(rest, word);
    if (!rest.empty()) return fail(number, "extra text after the value");
    if (!has_tag) {
      if (terminator == '{') return fail(number, "block starts with no name");
      if (terminator == '}') leave_scope();
      return true;
    }
    if (!has_word && tag == "#clear") return fail(number, "#clear needs the name of an option tree");
    if (!has_word && terminator != '{') {
      word = std::move(tag);  // a bare value: an unnamed list entry
      tag.clear();
    }
    if (tag.starts_with('#')) {
      if (!scopes_.empty()) return fail(number, "directives are only allowed at the top level");
      if (tag == "#clear") {
        clear_tree(config_, text::lower(word));
      } else if (tag != "#include" && tag != "#x-apt-configure-index") {
        return fail(number, "unsupported directive '" + tag + "'");
      }
      statement_.clear();
      return true;
    }
    std::string key = scope_key();
    if (terminator == '{') {
      scopes_.push_back(key.empty() ? text::lower(tag) : key + "::" + text::lower(tag));
      key = scopes_.back();
      tag.clear();
    } else {
      key = key.empty() ? text::lower(tag) : key + "::" + text::lower(tag);
    }
    if (has_word || terminator != '{') assign(key, std::move(word), number);
    statement_.clear();
    if (terminator == '}') leave_scope();
    return true;
  }

  void assign(const std::string& key, std::string value, int number) {
    AptSetting setting{std::move(value), file_ + ":" + std::to_string(number)};
    if (key.empty() || key.ends_with("::")) {
      config_.lists[key.size() >= 2 ? key.substr(0, key.size() - 2) : key].push_back(std::move(setting));
    } else {
      config_.values[key] = std::move(setting);
    }
  }

  std::string scope_key() const { return scopes_.empty() ? std::string() : scopes_.back(); }
  // A stray '}' at the top level is harmless to apt, so it is to us.
  void leave_scope() {
    if (!scopes_.empty()) scopes_.pop_back();
  }

  bool fail(int number, const std::string& what) {
    config_.error = file_ + ":" + std::to_string(number) + ": " + what;
    return false;
  }

  const std::string& file_;
  AptConfig& config_;
  std::vector<std::string> scopes_;  // full lower-cased key of each open scope
  std::string statement_;            // text since the last '{', ';' or '}'
  bool in_comment_ = false;
};

}  // namespace

const AptSetting* AptConfig::find(std::string_view key) const {
  const auto it = values.find(text::lower(key));
  return it == values.end() ? nullptr : &it->second;
}

std::vector<AptSetting> AptConfig::list(std::string_view key) const {
  const auto name = text::lower(key);
  std::vector<AptSetting> entries;
  if (const auto it = lists.find(name); it != lists.end()) entries = it->second;
  // Named children count too: apt hands a list's every direct child to its reader.
  const auto prefix = name + "::";
  for (auto it = values.lower_bound(prefix); it != values.end() && it->first.starts_with(prefix); ++it) {
    if (it->first.find("::", prefix.size()) == std::string::npos) entries.push_back(it->second);
  }
  return entries;
}

void parse_apt_config(std::string_view content, const std::string& file, AptConfig& config) {
  AptParser(file, config).parse(content);
}

bool apt_reads_part(std::string_view name) {
  if (name.empty()) return false;
  const bool valid = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
  });
  const auto dot = name.rfind('.');
  return valid && (dot == std::string_view::npos || name.substr(dot) == ".conf");
}

AptConfig read_apt_config(const Host& host) {
  AptConfig config;
  std::vector<std::string> paths;
  for (const auto& name : host.list_dir(kPartsDir)) {
    if (apt_reads_part(name)) paths.push_back(std::string(kPartsDir) + "/" + name);
  }
  if (host.exists(kMainFile)) paths.emplace_back(kMainFile);
  for (const auto& path : paths) {
    std::string why;
    const auto content = host.read_file(path, &why);
    if (!content) {
      if (why == "is a directory") continue;  // apt reads regular files only
      config.error = path + ": " + why;
      return config;
    }
    config.files.push_back(path);
    parse_apt_config(*content, path, config);
    if (!config.error.empty()) return config;
  }
  return config;
}

}  // namespace postured::checks
