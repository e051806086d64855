// `attncc explain SPEC`: the tile map the kernels would walk for given document lengths: counts of
// FULL / PARTIAL / skipped tiles, work saved vs dense, an ASCII map and an SVG picture.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "attncc/interval_form.h"
#include "attncc/mask_text.h"
#include "attncc/spec.h"
#include "tools/attncc/commands.h"

namespace attncc::cli {

const CommandInfo kExplainCommand = {
    "explain",
    "attncc explain SPEC (--lq N --lk N | --docs LIST) [--tile QxK] [--param NAME=V[,V...]] "
    "[--svg FILE]",
    "Show which tiles the kernels visit for given document lengths, and what that saves.",
    "Each document is cut into query tiles of Q rows and key tiles of K columns. A tile is\n"
    "FULL (computed without a per-element mask), PARTIAL (computed, mask evaluated per\n"
    "element) or skipped (never loaded). The counts come from the interval form, the same\n"
    "tile iteration the kernels use; 'attended' counts the pairs the mask actually keeps.\n\n"
    "map legend: '#' FULL, '+' PARTIAL, '.' skipped; rows are query tiles, columns key tiles.\n"
    "Large maps are downsampled: a cell shows '#' or '.' only if every tile it covers is so.\n\n"
    "examples:\n"
    "  attncc explain specs/causal.json --lq 4096 --lk 4096 --tile 128x64 --svg causal.svg\n"
    "  attncc explain specs/causal_br_decode.json --lq 200 --lk 1000\n"
    "  attncc explain specs/prefix_lm_docs.json --docs 300,0,1000 --param prefix_len=50,0,1000\n",
    {{"lq", "N", "query length of a single document"},
     {"lk", "N", "key length of a single document (default: --lq)"},
     {"docs", "LIST", "documents as comma-separated N (Lq = Lk = N) or LQ:LK, e.g. 512,0,64:128"},
     {"tile", "QxK", "tile shape in query rows x key columns (default 128x64)"},
     {"param", "NAME=V[,V...]",
      "value of mask parameter $NAME: one value for all documents or one per document",
      true},
     {"svg", "FILE", "write the tile map of all documents as an SVG picture"},
     {"width", "N", "widest ASCII map in characters (default 64; 0 = no map)"}},
    1,
    1,
};

namespace {

struct DocumentLengths {
  int64_t query_length = 0;
  int64_t key_length = 0;
};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);) parts.push_back(part);
  if (!text.empty() && text.back() == separator) parts.push_back("");
  return parts;
}

std::vector<DocumentLengths> parse_documents(const ParsedArguments& arguments) {
  std::vector<DocumentLengths> documents;
  if (arguments.has("docs")) {
    if (arguments.has("lq") || arguments.has("lk")) {
      throw user_error(ErrorCode::kInvalidArgument, "attncc explain",
                       "--docs and --lq/--lk are exclusive", "give one document shape or a list");
    }
    for (const std::string& item : split(*arguments.value("docs"), ',')) {
      std::vector<std::string> sides = split(item, ':');
      if (sides.empty() || sides.size() > 2) {
        throw user_error(ErrorCode::kInvalidArgument, "--docs",
                         "expected N or LQ:LK; got '" + item + "'");
      }
      int64_t query_length = parse_count("docs", sides[0]);
      int64_t key_length = sides.size() == 2 ? parse_count("docs", sides[1]) : query_length;
      documents.push_back({query_length, key_length});
    }
    return documents;
  }
  if (!arguments.has("lq")) {
    throw user_error(ErrorCode::kInvalidArgument, "attncc explain", "missing document lengths",
                     "pass --lq N [--lk N] or --docs LIST");
  }
  int64_t query_length = parse_count("lq", *arguments.value("lq"));
  int64_t key_length =
      arguments.has("lk") ? parse_count("lk", *arguments.value("lk")) : query_length;
  return {{query_length, key_length}};
}

// Per-document parameter values from --param, checked against the spec's parameters.
std::vector<MaskContext> build_contexts(const Spec& spec, const ParsedArguments& arguments,
                                        const std::vector<DocumentLengths>& documents) {
  std::map<std::string, std::vector<int64_t>> values;
  for (const std::string& assignment : arguments.all("param")) {
    size_t equals = assignment.find('=');
    std::string name = assignment.substr(0, equals);
    if (!name.empty() && name[0] == '$') name = name.substr(1);
    if (equals == std::string::npos || name.empty()) {
      throw user_error(ErrorCode::kInvalidArgument, "--param",
                       "expected NAME=V or NAME=V1,V2,...; got '" + assignment + "'");
    }
    if (!spec.parameters.count(name)) {
      throw user_error(ErrorCode::kInvalidArgument, "--param " + name,
                       "the mask has no parameter $" + name);
    }
    for (const std::string& item : split(assignment.substr(equals + 1), ',')) {
      try {
        size_t used = 0;
        int64_t value = std::stoll(item, &used);
        if (used != item.size()) throw std::invalid_argument(item);
        values[name].push_back(value);
      } catch (const std::logic_error&) {
        throw user_error(ErrorCode::kInvalidArgument, "--param " + name,
                         "expected an integer; got '" + item + "'");
      }
    }
    size_t count = values[name].size();
    if (count != 1 && count != documents.size()) {
      throw user_error(ErrorCode::kInvalidArgument, "--param " + name,
                       "has " + std::to_string(count) + " values for " +
                           std::to_string(documents.size()) + " documents",
                       "give one value for all documents or one per document");
    }
  }
  for (const auto& [name, per_document] : spec.parameters) {
    if (!values.count(name)) {
      throw user_error(ErrorCode::kInvalidArgument, "attncc explain",
                       "the mask needs parameter $" + name, "pass --param " + name + "=VALUE");
    }
  }
  std::vector<MaskContext> contexts;
  for (size_t index = 0; index < documents.size(); ++index) {
    MaskContext context;
    context.query_length = documents[index].query_length;
    context.key_length = documents[index].key_length;
    for (const auto& [name, list] : values) {
      context.parameters[name] = list.size() == 1 ? list[0] : list[index];
    }
    contexts.push_back(std::move(context));
  }
  return contexts;
}

int64_t ceil_divide(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The classes of every tile of one document, row-major by query tile.
struct DocumentTileMap {
  int64_t query_tiles = 0;
  int64_t key_tiles = 0;
  std::vector<TileClass> tiles;
  int64_t attended_pairs = -1;  // -1 = too large to count
  int64_t computed_elements = 0;
};

DocumentTileMap map_document(const IntervalForm& form, const Spec& spec,
                             const MaskContext& context, int64_t tile_q, int64_t tile_k) {
  DocumentTileMap map;
  map.query_tiles = ceil_divide(context.query_length, tile_q);
  map.key_tiles = ceil_divide(context.key_length, tile_k);
  map.tiles.assign(map.query_tiles * map.key_tiles, TileClass::kSkipped);
  for (int64_t query_tile = 0; query_tile < map.query_tiles; ++query_tile) {
    int64_t i0 = query_tile * tile_q;
    int64_t i1 = std::min(context.query_length, i0 + tile_q) - 1;
    for (const TileRange& range : key_tiles_to_visit(form, context, i0, i1, tile_k)) {
      for (int64_t key_tile = range.first; key_tile <= range.last; ++key_tile) {
        int64_t j0 = key_tile * tile_k;
        int64_t j1 = std::min(context.key_length, j0 + tile_k) - 1;
        TileClass tile_class = classify_tile(form, context, i0, i1, j0, j1);
        // A visited tile is computed even if no element of it turns out attended.
        map.tiles[query_tile * map.key_tiles + key_tile] =
            tile_class == TileClass::kFull ? TileClass::kFull : TileClass::kPartial;
        map.computed_elements += (i1 - i0 + 1) * (j1 - j0 + 1);
      }
    }
  }
  // Counting attended pairs evaluates the mask per element: only for moderate sizes.
  if (context.query_length * context.key_length <= (int64_t{1} << 26)) {
    map.attended_pairs = 0;
    for (int64_t i = 0; i < context.query_length; ++i) {
      for (int64_t j = 0; j < context.key_length; ++j) {
        map.attended_pairs += evaluate(*spec.mask, context, i, j) ? 1 : 0;
      }
    }
  }
  return map;
}

char cell_character(const DocumentTileMap& map, int64_t row0, int64_t row1, int64_t column0,
                    int64_t column1) {
  bool all_full = true;
  bool all_skipped = true;
  for (int64_t row = row0; row < row1; ++row) {
    for (int64_t column = column0; column < column1; ++column) {
      TileClass tile_class = map.tiles[row * map.key_tiles + column];
      all_full = all_full && tile_class == TileClass::kFull;
      all_skipped = all_skipped && tile_class == TileClass::kSkipped;
    }
  }
  return all_full ? '#' : all_skipped ? '.' : '+';
}

void print_ascii_map(const DocumentTileMap& map, int64_t width) {
  if (width <= 0 || map.query_tiles == 0 || map.key_tiles == 0) return;
  int64_t columns = std::min(map.key_tiles, width);
  // Keep the aspect of the tile grid; terminal cells are about twice as tall as wide.
  int64_t rows = std::min(map.query_tiles, std::max<int64_t>(1, width / 2));
  if (rows < map.query_tiles || columns < map.key_tiles) {
    std::printf("  (downsampled from %lld x %lld tiles)\n", static_cast<long long>(map.query_tiles),
                static_cast<long long>(map.key_tiles));
  }
  for (int64_t row = 0; row < rows; ++row) {
    std::string line = "  ";
    int64_t row0 = row * map.query_tiles / rows;
    int64_t row1 = std::max(row0 + 1, (row + 1) * map.query_tiles / rows);
    for (int64_t column = 0; column < columns; ++column) {
      int64_t column0 = column * map.key_tiles / columns;
      int64_t column1 = std::max(column0 + 1, (column + 1) * map.key_tiles / columns);
      line += cell_character(map, row0, row1, column0, column1);
    }
    std::printf("%s\n", line.c_str());
  }
}

// Mask text holds '&' and '<', which XML reserves.
std::string xml_escape(const std::string& text) {
  std::string escaped;
  for (char character : text) {
    switch (character) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      default: escaped += character;
    }
  }
  return escaped;
}

const char* svg_color(TileClass tile_class) {
  switch (tile_class) {
    case TileClass::kFull: return "#1f4e79";
    case TileClass::kPartial: return "#f4a261";
    case TileClass::kSkipped: return "#e9ecef";
  }
  return "#ffffff";
}

// Documents laid out along the diagonal of the packed [sum Lq, sum Lk] matrix.
void write_svg(const std::string& path, const std::string& title,
               const std::vector<MaskContext>& contexts,
               const std::vector<DocumentTileMap>& maps, int64_t tile_q, int64_t tile_k) {
  const std::string escaped_title = xml_escape(title);
  int64_t total_q = 0;
  int64_t total_k = 0;
  for (const MaskContext& context : contexts) {
    total_q += context.query_length;
    total_k += context.key_length;
  }
  const double kSide = 800.0;
  double scale = kSide / static_cast<double>(std::max<int64_t>({total_q, total_k, 1}));
  double width = std::max(1.0, total_k * scale);
  double height = std::max(1.0, total_q * scale);
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width + 40 << "\" height=\""
      << height + 90 << "\" viewBox=\"-20 -50 " << width + 40 << " " << height + 90 << "\">\n"
      << "<title>" << escaped_title << "</title>\n"
      << "<rect x=\"-20\" y=\"-50\" width=\"" << width + 40 << "\" height=\"" << height + 90
      << "\" fill=\"white\"/>\n"
      << "<text x=\"0\" y=\"-30\" font-family=\"sans-serif\" font-size=\"14\">" << escaped_title
      << "</text>\n";
  const std::pair<TileClass, const char*> kLegend[] = {
      {TileClass::kFull, "FULL"}, {TileClass::kPartial, "PARTIAL"}, {TileClass::kSkipped, "skipped"}};
  double legend_x = 0;
  for (const auto& [tile_class, label] : kLegend) {
    svg << "<rect x=\"" << legend_x << "\" y=\"-20\" width=\"12\" height=\"12\" fill=\""
        << svg_color(tile_class) << "\" stroke=\"#555\" stroke-width=\"0.5\"/>"
        << "<text x=\"" << legend_x + 16 << "\" y=\"-10\" font-family=\"sans-serif\" "
        << "font-size=\"12\">" << label << "</text>\n";
    legend_x += 90;
  }
  svg << "<rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << height
      << "\" fill=\"white\" stroke=\"#999\" stroke-width=\"1\"/>\n";
  double stroke = std::min(0.5, 0.1 * tile_k * scale);
  int64_t query_offset = 0;
  int64_t key_offset = 0;
  for (size_t document = 0; document < maps.size(); ++document) {
    const DocumentTileMap& map = maps[document];
    const MaskContext& context = contexts[document];
    for (int64_t query_tile = 0; query_tile < map.query_tiles; ++query_tile) {
      int64_t rows = std::min(tile_q, context.query_length - query_tile * tile_q);
      for (int64_t key_tile = 0; key_tile < map.key_tiles; ++key_tile) {
        int64_t columns = std::min(tile_k, context.key_length - key_tile * tile_k);
        svg << "<rect x=\"" << (key_offset + key_tile * tile_k) * scale << "\" y=\""
            << (query_offset + query_tile * tile_q) * scale << "\" width=\"" << columns * scale
            << "\" height=\"" << rows * scale << "\" fill=\""
            << svg_color(map.tiles[query_tile * map.key_tiles + key_tile])
            << "\" stroke=\"white\" stroke-width=\"" << stroke << "\"/>\n";
      }
    }
    query_offset += context.query_length;
    key_offset += context.key_length;
  }
  svg << "<text x=\"0\" y=\"" << height + 20 << "\" font-family=\"sans-serif\" font-size=\"11\">"
      << "rows: query tokens (" << total_q << "), columns: key tokens (" << total_k
      << "), tiles " << tile_q << " x " << tile_k << "</text>\n</svg>\n";
  std::ofstream out(path);
  out << svg.str();
  if (!out) throw user_error(ErrorCode::kIo, path, "cannot write the SVG file");
}

double percent(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

int run_explain(const ParsedArguments& arguments) {
  const std::string& path = arguments.positionals[0];
  Spec spec = Spec::load(path);
  int64_t tile_q = 128;
  int64_t tile_k = 64;
  if (arguments.has("tile")) {
    std::vector<std::string> sides = split(*arguments.value("tile"), 'x');
    if (sides.size() != 2) {
      throw user_error(ErrorCode::kInvalidArgument, "--tile",
                       "expected QxK, e.g. 128x64; got '" + *arguments.value("tile") + "'");
    }
    tile_q = parse_count("tile", sides[0]);
    tile_k = parse_count("tile", sides[1]);
    if (tile_q == 0 || tile_k == 0) {
      throw user_error(ErrorCode::kInvalidArgument, "--tile", "tile sides must be positive");
    }
  }
  int64_t width = arguments.has("width") ? parse_count("width", *arguments.value("width")) : 64;
  std::vector<DocumentLengths> documents = parse_documents(arguments);
  std::vector<MaskContext> contexts = build_contexts(spec, arguments, documents);
  IntervalForm form = build_interval_form(spec.mask);

  std::printf("spec        %s%s\n", path.c_str(),
              spec.name.empty() ? "" : (" (" + spec.name + ")").c_str());
  std::printf("mask        %s\n", print_mask(*spec.mask).c_str());
  std::printf("tiles       %lld x %lld (query rows x key columns)\n",
              static_cast<long long>(tile_q), static_cast<long long>(tile_k));

  std::vector<DocumentTileMap> maps;
  int64_t counts[3] = {0, 0, 0};
  int64_t dense_elements = 0;
  int64_t computed_elements = 0;
  int64_t attended_pairs = 0;
  bool attended_known = true;
  for (size_t index = 0; index < contexts.size(); ++index) {
    const MaskContext& context = contexts[index];
    DocumentTileMap map = map_document(form, spec, context, tile_q, tile_k);
    int64_t document_counts[3] = {0, 0, 0};
    for (TileClass tile_class : map.tiles) ++document_counts[static_cast<int>(tile_class)];
    for (int kind = 0; kind < 3; ++kind) counts[kind] += document_counts[kind];
    dense_elements += context.query_length * context.key_length;
    computed_elements += map.computed_elements;
    if (map.attended_pairs < 0) attended_known = false;
    else attended_pairs += map.attended_pairs;
    std::printf("\ndocument %zu  Lq %lld, Lk %lld: %lld FULL, %lld PARTIAL, %lld skipped of %zu\n",
                index, static_cast<long long>(context.query_length),
                static_cast<long long>(context.key_length),
                static_cast<long long>(document_counts[2]),
                static_cast<long long>(document_counts[1]),
                static_cast<long long>(document_counts[0]), map.tiles.size());
    if (contexts.size() <= 8) print_ascii_map(map, width);
    maps.push_back(std::move(map));
  }
  int64_t total = counts[0] + counts[1] + counts[2];
  std::printf("\ntotal       %lld tiles: %lld FULL, %lld PARTIAL, %lld skipped\n",
              static_cast<long long>(total), static_cast<long long>(counts[2]),
              static_cast<long long>(counts[1]), static_cast<long long>(counts[0]));
  std::printf("work        %.1f%% of dense tiles skipped; %.1f%% of dense elements computed\n",
              percent(counts[0], total), percent(computed_elements, dense_elements));
  if (attended_known) {
    std::printf("attended    %.1f%% of dense pairs (%.1f%% of computed elements)\n",
                percent(attended_pairs, dense_elements),
                percent(attended_pairs, computed_elements));
  }
  if (contexts.size() > 1) {
    int64_t total_q = 0;
    int64_t total_k = 0;
    for (const MaskContext& context : contexts) {
      total_q += context.query_length;
      total_k += context.key_length;
    }
    std::printf("vs packed   %.1f%% of one dense %lld x %lld attention computed\n",
                percent(computed_elements, total_q * total_k), static_cast<long long>(total_q),
                static_cast<long long>(total_k));
  }
  if (!form.exact()) {
    std::printf("note        the mask is not exactly solvable for j: no tile is FULL\n");
  }
  if (arguments.has("svg")) {
    std::string svg_path = *arguments.value("svg");
    write_svg(svg_path, (spec.name.empty() ? path : spec.name) + ": " + print_mask(*spec.mask),
              contexts, maps, tile_q, tile_k);
    std::printf("svg         %s\n", svg_path.c_str());
  }
  return 0;
}

}  // namespace attncc::cli
