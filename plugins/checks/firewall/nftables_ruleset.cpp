#include "firewall/nftables_ruleset.hpp"

#include <memory>
#include <set>
#include <utility>

namespace postured::checks {
namespace {

constexpr int kMaxIncludeDepth = 16;  // nft's MAX_INCLUDE_DEPTH
constexpr const char* kIncludePath = "/etc";

const std::set<std::string> kFamilies = {"ip", "ip6", "inet", "arp", "bridge", "netdev"};

struct Token {
  enum Kind { word, open, close, end } kind = word;
  std::string text;
  std::string where;  // file:line
};

// A statement is words and nested blocks; a block is a list of statements.
struct Statement;
using Block = std::vector<Statement>;
struct Item {
  std::string word;              // empty when this item is a block
  std::shared_ptr<Block> block;  // set when this item is a { ... } block
};
struct Statement {
  std::vector<Item> items;
  std::string where;
};

class Tokenizer {
 public:
  Tokenizer(const Host& host, NftRuleset& ruleset) : host_(host), ruleset_(ruleset) {}

  // Appends the tokens of `path` to `out`, with includes expanded in place (nft does it in its scanner).
  void read(const std::string& path, int depth, std::vector<Token>& out) {
    if (!ruleset_.error.empty() || !ruleset_.broken.empty()) return;
    if (depth > kMaxIncludeDepth) {
      ruleset_.broken = "include nesting deeper than 16 at " + path;
      return;
    }
    std::string why;
    const auto content = host_.read_file(path, &why);
    if (!content) {
      ruleset_.error = path + ": " + why;
      return;
    }
    ruleset_.files.push_back(path);
    std::vector<Token> tokens = tokenize(*content, path);
    for (std::size_t k = 0; k < tokens.size(); ++k) {
      const bool include = tokens[k].kind == Token::word && tokens[k].text == "include" && k + 1 < tokens.size() &&
                           tokens[k + 1].kind == Token::word && (k == 0 || tokens[k - 1].kind != Token::word);
      if (!include) {
        out.push_back(std::move(tokens[k]));
        continue;
      }
      expand(tokens[k + 1].text, tokens[k].where, depth, out);
      ++k;
      if (!ruleset_.error.empty() || !ruleset_.broken.empty()) return;
    }
  }

 private:
  void expand(std::string name, const std::string& where, int depth, std::vector<Token>& out) {
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
    if (name.starts_with("./")) name = name.substr(2);
    if (name.empty()) return;
    if (name.front() != '/') name = std::string(kIncludePath) + "/" + name;
    if (name.find_first_of("*?[") != std::string::npos) {
      for (const auto& file : host_.glob(name)) read(file, depth + 1, out);  // a glob may match nothing
      return;
    }
    if (!host_.exists(name)) {
      ruleset_.broken = "include of missing " + name + " at " + where;
      return;
    }
    read(name, depth + 1, out);
  }

  static std::vector<Token> tokenize(const std::string& content, const std::string& path) {
    std::vector<Token> tokens;
    int line = 1;
    const auto where = [&] { return path + ":" + std::to_string(line); };
    for (std::size_t i = 0; i < content.size();) {
      const char c = content[i];
      if (c == '#') {
        while (i < content.size() && content[i] != '\n') ++i;
      } else if (c == '\\' && i + 1 < content.size() && content[i + 1] == '\n') {
        i += 2;
        ++line;
      } else if (c == '\n' || c == ';') {
        tokens.push_back({Token::end, "", where()});
        if (c == '\n') ++line;
        ++i;
      } else if (c == '{' || c == '}') {
        tokens.push_back({c == '{' ? Token::open : Token::close, std::string(1, c), where()});
        ++i;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++i;
      } else {
        // A word; a quoted string (no escapes in nft) is part of the word it starts.
        std::string word;
        while (i < content.size()) {
          const char d = content[i];
          if (d == '"') {
            const auto close = content.find('"', i + 1);
            const auto stop = close == std::string::npos ? content.size() : close + 1;
            word.append(content, i, stop - i);
            i = stop;
            continue;
          }
          if (d == ' ' || d == '\t' || d == '\r' || d == '\n' || d == ';' || d == '{' || d == '}' || d == '#') break;
          word += d;
          ++i;
        }
        tokens.push_back({Token::word, std::move(word), where()});
      }
    }
    return tokens;
  }

  const Host& host_;
  NftRuleset& ruleset_;
};

// Builds statements until the closing brace of the current block (or the end of the tokens).
Block parse_block(const std::vector<Token>& tokens, std::size_t& k) {
  Block block;
  Statement current;
  const auto finish = [&] {
    if (!current.items.empty()) block.push_back(std::move(current));
    current = Statement{};
  };
  while (k < tokens.size()) {
    const auto& token = tokens[k++];
    switch (token.kind) {
      case Token::end: finish(); break;
      case Token::close: finish(); return block;
      case Token::open: {
        if (current.items.empty()) current.where = token.where;
        auto inner = std::make_shared<Block>(parse_block(tokens, k));
        current.items.push_back({"", std::move(inner)});
        break;
      }
      case Token::word:
        if (current.items.empty()) current.where = token.where;
        current.items.push_back({token.text, nullptr});
        break;
    }
  }
  finish();
  return block;
}

std::string word_at(const Statement& statement, std::size_t k) {
  return k < statement.items.size() ? statement.items[k].word : std::string();
}

// The words of a rule, with every nested block (an anonymous set or map) as one "{...}" word.
std::vector<std::string> rule_words(const Statement& statement, std::size_t from) {
  std::vector<std::string> words;
  for (std::size_t k = from; k < statement.items.size(); ++k) {
    words.push_back(statement.items[k].block ? "{...}" : statement.items[k].word);
  }
  return words;
}

class Interpreter {
 public:
  explicit Interpreter(NftRuleset& ruleset) : ruleset_(ruleset) {}

  void top(const Block& block) {
    for (const auto& statement : block) {
      const auto first = word_at(statement, 0);
      std::size_t k = 1;
      if (first == "add" || first == "create" || first == "insert") {
        const auto what = word_at(statement, 1);
        k = 2;
        if (what == "table") {
          table(statement, k);
        } else if (what == "chain") {
          chain_statement(statement, k);
        } else if (what == "rule") {
          rule_statement(statement, k, first == "insert");
        }
      } else if (first == "table") {
        table(statement, k);
      } else if (first == "chain") {
        chain_statement(statement, k);
      } else if (first == "rule") {
        rule_statement(statement, k, false);
      } else if (first == "flush" && word_at(statement, 1) == "ruleset") {
        chains_.clear();
        dormant_.clear();
      } else if ((first == "delete" || first == "destroy") && word_at(statement, 1) == "table") {
        k = 2;
        const auto [family, name] = family_and_name(statement, k);
        std::erase_if(chains_, [&](const NftChain& c) { return c.family == family && c.table == name; });
        dormant_.erase(family + " " + name);
      }
    }
    for (auto& chain : chains_) chain.dormant = dormant_.count(chain.family + " " + chain.table) > 0;
    ruleset_.chains = std::move(chains_);
  }

 private:
  // "[family] name" at `k`; the family defaults to ip, as in nft.
  static std::pair<std::string, std::string> family_and_name(const Statement& statement, std::size_t& k) {
    std::string family = "ip";
    if (kFamilies.count(word_at(statement, k)) && !word_at(statement, k + 1).empty()) family = word_at(statement, k++);
    return {family, word_at(statement, k++)};
  }

  NftChain& chain_for(const std::string& family, const std::string& table, const std::string& name,
                      const std::string& where) {
    for (auto& chain : chains_) {
      if (chain.family == family && chain.table == table && chain.name == name) return chain;
    }
    NftChain chain;
    chain.family = family;
    chain.table = table;
    chain.name = name;
    chain.origin = where;
    chains_.push_back(std::move(chain));
    return chains_.back();
  }

  // table [family] name { chain ... { } ; flags dormant ; set ... { } }
  void table(const Statement& statement, std::size_t k) {
    const auto [family, name] = family_and_name(statement, k);
    if (k >= statement.items.size() || !statement.items[k].block) return;
    for (const auto& inner : *statement.items[k].block) {
      const auto first = word_at(inner, 0);
      if (first == "chain" && inner.items.size() >= 3 && inner.items[2].block) {
        chain_body(chain_for(family, name, word_at(inner, 1), inner.where), *inner.items[2].block);
      } else if (first == "flags") {
        for (std::size_t w = 1; w < inner.items.size(); ++w) {
          if (inner.items[w].word.find("dormant") != std::string::npos) dormant_.insert(family + " " + name);
        }
      }
    }
  }

  // chain [family] table name [{ ... }]
  void chain_statement(const Statement& statement, std::size_t k) {
    std::string family = "ip";
    // Three names before the block (or the end) mean the family is given.
    std::size_t names = 0;
    while (k + names < statement.items.size() && !statement.items[k + names].block) ++names;
    if (names >= 3) family = word_at(statement, k++);
    const auto table_name = word_at(statement, k++);
    auto& chain = chain_for(family, table_name, word_at(statement, k++), statement.where);
    if (k < statement.items.size() && statement.items[k].block) chain_body(chain, *statement.items[k].block);
  }

  // rule [family] table chain <rule...>; with `insert` the rule goes first.
  void rule_statement(const Statement& statement, std::size_t k, bool insert) {
    std::string family = "ip";
    if (kFamilies.count(word_at(statement, k))) family = word_at(statement, k++);
    const auto table_name = word_at(statement, k++);
    auto& chain = chain_for(family, table_name, word_at(statement, k++), statement.where);
    if (word_at(statement, k) == "position" || word_at(statement, k) == "handle" || word_at(statement, k) == "index") {
      k += 2;
    }
    auto words = rule_words(statement, k);
    if (words.empty()) return;
    if (insert) {
      chain.rules.insert(chain.rules.begin(), std::move(words));
    } else {
      chain.rules.push_back(std::move(words));
    }
  }

  static void chain_body(NftChain& chain, const Block& body) {
    for (const auto& statement : body) {
      const auto first = word_at(statement, 0);
      if (first == "type") {
        for (std::size_t k = 1; k + 1 < statement.items.size(); ++k) {
          if (statement.items[k].word == "hook") chain.hook = statement.items[k + 1].word;
          if (statement.items[k].word == "policy") chain.policy = statement.items[k + 1].word;
        }
      } else if (first == "policy") {
        chain.policy = word_at(statement, 1);
      } else if (first == "comment" || first == "devices" || first == "flags") {
        continue;
      } else {
        chain.rules.push_back(rule_words(statement, 0));
      }
    }
  }

  NftRuleset& ruleset_;
  std::vector<NftChain> chains_;
  std::set<std::string> dormant_;  // "family table"
};

}  // namespace

std::string NftChain::final_drop() const {
  if (rules.empty()) return {};
  // Statements that do not match anything and take an argument (or none) may come before the verdict.
  static const std::set<std::string> kPlain = {"counter", "log"};
  static const std::set<std::string> kWithArgument = {"packets", "bytes",           "prefix", "level",  "group",
                                                      "snaplen", "queue-threshold", "flags",  "comment"};
  const auto& rule = rules.back();
  for (std::size_t k = 0; k < rule.size(); ++k) {
    if (kPlain.count(rule[k])) continue;
    if (kWithArgument.count(rule[k])) {
      ++k;
      continue;
    }
    return rule[k] == "drop" || rule[k] == "reject" ? rule[k] : std::string();
  }
  return {};
}

NftRuleset read_nftables_config(const Host& host, const std::string& path) {
  NftRuleset ruleset;
  std::vector<Token> tokens;
  Tokenizer(host, ruleset).read(path, 0, tokens);
  if (!ruleset.error.empty() || !ruleset.broken.empty()) return ruleset;
  // nft refuses a file whose braces do not balance, so such a ruleset is never loaded.
  // Real rulesets nest a few levels (table, chain, set); a deeper file would only exhaust the parser's stack.
  constexpr int kMaxBraceDepth = 64;
  int depth = 0;
  for (const auto& token : tokens) {
    if (token.kind == Token::open && ++depth > kMaxBraceDepth) {
      ruleset.broken = "braces nested deeper than 64 at " + token.where;
      return ruleset;
    }
    if (token.kind == Token::close && --depth < 0) {
      ruleset.broken = "unexpected '}' at " + token.where;
      return ruleset;
    }
  }
  if (depth != 0) {
    ruleset.broken = "unclosed '{' in " + ruleset.files.front();
    return ruleset;
  }
  std::size_t k = 0;
  const auto top = parse_block(tokens, k);
  Interpreter(ruleset).top(top);
  return ruleset;
}

}  // namespace postured::checks
