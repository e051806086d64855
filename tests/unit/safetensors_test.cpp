// safetensors reader and writer (runtime/io/safetensors): round trips of every dtype with random
// data, the exact bytes of a file against one assembled by hand here, unaligned tensors, strided
// inputs, and every malformed-file error with its message.
#include "runtime/io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "support/random_inputs.h"

namespace attncc {
namespace {

using testing::TestRandom;

// A fresh directory per test, removed with it.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = std::filesystem::path(::testing::TempDir()) /
                 ("attncc_safetensors_" + std::string(info->name()) + "_" +
                  std::to_string(::getpid()));
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::string file(const std::string& name) const { return (directory_ / name).string(); }

  std::filesystem::path directory_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream stream(path, std::ios::binary);
  stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The 8-byte little-endian length field, written here independently of the library.
std::string length_field(uint64_t length) {
  std::string field(8, '\0');
  for (int index = 0; index < 8; ++index) {
    field[index] = static_cast<char>((length >> (8 * index)) & 0xff);
  }
  return field;
}

// A file from header text and buffer bytes, exactly as given (no padding).
std::string raw_file(const std::string& header, const std::string& buffer) {
  return length_field(header.size()) + header + buffer;
}

std::string bytes_of(const TensorRef& tensor) {
  HostTensor copy = HostTensor::copy_of(tensor);
  return std::string(reinterpret_cast<const char*>(copy.data()), copy.size_bytes());
}

// Random bytes that are valid values of the type (fp16/bf16 from rounded normals).
HostTensor random_tensor(ScalarType dtype, std::vector<int64_t> shape, TestRandom& random) {
  HostTensor tensor(dtype, std::move(shape));
  std::vector<double> values = random.normal(tensor.numel(), 100.0);
  return from_double(dtype, tensor.shape(), values);
}

std::string error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    EXPECT_TRUE(error.is_user_error()) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no error thrown";
  return {};
}

TEST_F(SafetensorsTest, RoundTripsEveryDtypeAndShapeWithMetadata) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  struct Case {
    std::string name;
    ScalarType dtype;
    std::vector<int64_t> shape;
  };
  const std::vector<Case> cases = {
      {"f16", ScalarType::kFloat16, {3, 5}},        {"scalar_f32", ScalarType::kFloat32, {}},
      {"bf16", ScalarType::kBFloat16, {2, 3, 7}},   {"f32", ScalarType::kFloat32, {17}},
      {"empty_i32", ScalarType::kInt32, {0}},       {"i32", ScalarType::kInt32, {4, 1}},
      {"i64", ScalarType::kInt64, {5}},             {"f64", ScalarType::kFloat64, {2, 2}},
      {"empty_bf16", ScalarType::kBFloat16, {3, 0, 2}}, {"odd_f16", ScalarType::kFloat16, {1}},
  };
  std::vector<HostTensor> tensors;
  std::vector<std::pair<std::string, TensorRef>> named;
  for (const Case& item : cases) tensors.push_back(random_tensor(item.dtype, item.shape, random));
  for (size_t index = 0; index < cases.size(); ++index) {
    named.emplace_back(cases[index].name, tensors[index].ref());
  }
  const std::map<std::string, std::string> metadata = {
      {"spec", "{\"layout\": \"varlen\"}"}, {"hash", "0123abcd"}, {"empty", ""}};
  const std::string path = file("round_trip.safetensors");
  write_safetensors(path, named, metadata);

  SafetensorsFile read = read_safetensors(path);
  EXPECT_EQ(read.path(), path);
  EXPECT_EQ(read.metadata(), metadata);
  // Header order is data order: 8-byte elements, then 4-byte, then 2-byte, each in given order.
  EXPECT_EQ(read.names(),
            (std::vector<std::string>{"i64", "f64", "scalar_f32", "f32", "empty_i32", "i32", "f16",
                                      "bf16", "empty_bf16", "odd_f16"}));
  for (size_t index = 0; index < cases.size(); ++index) {
    SCOPED_TRACE(cases[index].name);
    ASSERT_TRUE(read.contains(cases[index].name));
    TensorRef view = read.view(cases[index].name);
    EXPECT_EQ(view.dtype, cases[index].dtype);
    EXPECT_EQ(view.shape, cases[index].shape);
    EXPECT_EQ(view.device, DeviceKind::kCpu);
    EXPECT_TRUE(view.strides.empty());
    EXPECT_NE(view.data, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(view.data) % scalar_type_size(view.dtype), 0u);
    EXPECT_EQ(bytes_of(view), bytes_of(tensors[index].ref()));
  }
  EXPECT_FALSE(read.contains("missing"));

  // Writing what was read gives the same file, byte for byte.
  std::vector<std::pair<std::string, TensorRef>> again;
  for (const std::string& name : read.names()) again.emplace_back(name, read.view(name));
  write_safetensors(file("again.safetensors"), again, read.metadata());
  EXPECT_EQ(read_bytes(file("again.safetensors")), read_bytes(path));
}

TEST_F(SafetensorsTest, WritesTheExactBytesOfTheFormat) {
  const float a_values[2] = {1.5f, -2.0f};
  const uint16_t b_values[3] = {0x3c00, 0xc000, 0x7bff};  // fp16 1, -2, 65504
  const int64_t c_values[1] = {-3};
  HostTensor a(ScalarType::kFloat32, {2});
  HostTensor b(ScalarType::kFloat16, {3});
  HostTensor c(ScalarType::kInt64, {1});
  std::memcpy(a.data(), a_values, sizeof(a_values));
  std::memcpy(b.data(), b_values, sizeof(b_values));
  std::memcpy(c.data(), c_values, sizeof(c_values));
  const std::string path = file("exact.safetensors");
  write_safetensors(path, {{"a", a.ref()}, {"b", b.ref()}, {"c", c.ref()}}, {{"spec", "x"}});

  // By hand: metadata first, then tensors in data order (8-byte elements first), compact JSON,
  // padded with spaces to a multiple of 8; the buffer is the raw little-endian elements.
  std::string header =
      R"({"__metadata__":{"spec":"x"},"c":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("b":{"dtype":"F16","shape":[3],"data_offsets":[16,22]}})";
  while (header.size() % 8 != 0) header += ' ';
  std::string buffer;
  buffer.append(reinterpret_cast<const char*>(c_values), sizeof(c_values));
  buffer.append(reinterpret_cast<const char*>(a_values), sizeof(a_values));
  buffer.append(reinterpret_cast<const char*>(b_values), sizeof(b_values));
  EXPECT_EQ(read_bytes(path), raw_file(header, buffer));

  // No tensors, no metadata: "{}" and six spaces.
  write_safetensors(file("empty.safetensors"), {});
  EXPECT_EQ(read_bytes(file("empty.safetensors")), raw_file("{}      ", ""));
  EXPECT_TRUE(read_safetensors(file("empty.safetensors")).names().empty());
}

TEST_F(SafetensorsTest, ReadsUnalignedTensorsIntoAlignedCopies) {
  // Header of odd length and an I32 tensor at buffer offset 2: both views must be aligned.
  const int32_t values[3] = {7, -8, 1 << 30};
  const uint16_t half = 0x3c00;
  std::string header =
      R"({"h":{"dtype":"F16","shape":[],"data_offsets":[0,2]},)"
      R"("x":{"dtype":"I32","shape":[3],"data_offsets":[2,14]}})";
  ASSERT_NE(header.size() % 4, 0u);
  std::string buffer(reinterpret_cast<const char*>(&half), 2);
  buffer.append(reinterpret_cast<const char*>(values), sizeof(values));
  write_bytes(file("unaligned.safetensors"), raw_file(header, buffer));

  SafetensorsFile read = read_safetensors(file("unaligned.safetensors"));
  EXPECT_EQ(read.names(), (std::vector<std::string>{"h", "x"}));
  EXPECT_TRUE(read.metadata().empty());
  TensorRef x = read.view("x");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.data) % alignof(int32_t), 0u);
  EXPECT_EQ(to_int64(x, "x"), (std::vector<int64_t>{7, -8, 1 << 30}));
  TensorRef h = read.view("h");
  EXPECT_TRUE(h.shape.empty());
  EXPECT_EQ(to_double(h), std::vector<double>{1.0});

  // Views survive moving the file object.
  SafetensorsFile moved = std::move(read);
  EXPECT_EQ(moved.view("x").data, x.data);
}

TEST_F(SafetensorsTest, WritesStridedTensorsContiguously) {
  // A [4, 3] row-major array; its transpose [3, 4] has strides {1, 3}; every other column of it
  // ([3, 2], strides {1, 6}) has a non-unit last stride.
  float storage[12];
  for (int index = 0; index < 12; ++index) storage[index] = static_cast<float>(index);
  TensorRef transpose = TensorRef::cpu(storage, ScalarType::kFloat32, {3, 4});
  transpose.strides = {1, 3};
  TensorRef every_other = TensorRef::cpu(storage, ScalarType::kFloat32, {3, 2});
  every_other.strides = {1, 6};
  TensorRef broadcast_row = TensorRef::cpu(storage + 1, ScalarType::kFloat32, {2, 3});
  broadcast_row.strides = {0, 1};
  write_safetensors(file("strided.safetensors"),
                    {{"t", transpose}, {"e", every_other}, {"r", broadcast_row}});

  SafetensorsFile read = read_safetensors(file("strided.safetensors"));
  EXPECT_EQ(read.view("t").shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(to_double(read.view("t")),
            (std::vector<double>{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11}));
  EXPECT_EQ(to_double(read.view("e")), (std::vector<double>{0, 6, 1, 7, 2, 8}));
  EXPECT_EQ(to_double(read.view("r")), (std::vector<double>{1, 2, 3, 1, 2, 3}));
  EXPECT_EQ(read.entry("t").end - read.entry("t").begin, 12 * sizeof(float));
}

TEST_F(SafetensorsTest, RejectsEachMalformedFileWithItsMessage) {
  const std::string good_entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string eight_bytes(8, '\0');
  struct Case {
    std::string what;
    std::string bytes;
    std::string message;  // after "<path>: error: "
  };
  const std::vector<Case> cases = {
      {"truncated", "abcde",
       "the file is 5 bytes, too short for the 8-byte header length; the file is truncated or "
       "not a safetensors file"},
      {"header past end", length_field(100) + "{}",
       "the header length 100 runs past the end of the file (2 bytes follow the length field)"},
      {"invalid json", raw_file(R"({"a": )", ""), "the header is not valid JSON ("},
      {"not an object", raw_file("[1, 2]", ""), "the header must be a JSON object"},
      {"entry not an object", raw_file(R"({"a": 3})", ""),
       "tensor 'a': header entry must be an object with dtype, shape, data_offsets"},
      {"missing shape", raw_file(R"({"a":{"dtype":"F32","data_offsets":[0,0]}})", ""),
       "tensor 'a': missing 'shape'"},
      {"unknown dtype",
       raw_file(R"({"mask":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "xx"),
       "tensor 'mask': dtype 'U8' is not supported; attncc reads F16, BF16, F32, F64, I32 and I64 "
       "tensors"},
      {"negative extent",
       raw_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight_bytes),
       "tensor 'a': shape [-2] must hold non-negative integers"},
      {"reversed offsets",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight_bytes),
       "tensor 'a': data_offsets [8,0] must be [begin, end] with 0 <= begin <= end"},
      {"duplicate name",
       raw_file(R"({"a":)" + good_entry + R"(,"a":)" + good_entry + "}", eight_bytes),
       "tensor 'a' appears twice in the header; every tensor name must be unique"},
      {"offsets out of range",
       raw_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight_bytes),
       "tensor 'a': data_offsets [0, 16] run past the end of the byte buffer (8 bytes)"},
      {"size mismatch",
       raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight_bytes),
       "tensor 'a': data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12"},
      {"overlap",
       raw_file(
           R"({"a":)" + good_entry + R"(,"b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]}})",
           std::string(12, '\0')),
       "tensors 'a' [0, 8] and 'b' [4, 12] overlap in the byte buffer"},
      {"metadata not strings", raw_file(R"({"__metadata__":{"n":3}})", ""),
       "__metadata__ value of 'n' must be a string; got 3"},
  };
  for (const Case& item : cases) {
    SCOPED_TRACE(item.what);
    const std::string path = file("bad.safetensors");
    write_bytes(path, item.bytes);
    std::string message = error_message([&] { read_safetensors(path); });
    EXPECT_EQ(message.rfind(path + ": error: " + item.message, 0), 0u) << message;
  }
}

TEST_F(SafetensorsTest, ReportsMissingFilesAndTensorsWithHints) {
  const std::string missing = file("nope.safetensors");
  try {
    read_safetensors(missing);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kIo);
    EXPECT_EQ(std::string(error.what()),
              missing + ": error: cannot open: No such file or directory");
  }
  HostTensor q(ScalarType::kFloat32, {1});
  write_safetensors(file("one.safetensors"), {{"q", q.ref()}, {"cu_seqlens_q", q.ref()}});
  SafetensorsFile read = read_safetensors(file("one.safetensors"));
  EXPECT_EQ(error_message([&] { read.view("cu_seqlen_q"); }),
            file("one.safetensors") +
                ": error: no tensor named 'cu_seqlen_q'; did you mean 'cu_seqlens_q'? the file "
                "holds: q, cu_seqlens_q");
}

TEST_F(SafetensorsTest, WriterRejectsBadNamesAndDevicesAndLeavesNoFileBehind) {
  HostTensor x(ScalarType::kFloat32, {2});
  const std::string path = file("out.safetensors");
  EXPECT_NE(error_message([&] { write_safetensors(path, {{"x", x.ref()}, {"x", x.ref()}}); })
                .find("tensor 'x' is given twice"),
            std::string::npos);
  EXPECT_NE(error_message([&] { write_safetensors(path, {{"__metadata__", x.ref()}}); })
                .find("'__metadata__' is reserved"),
            std::string::npos);
  EXPECT_NE(error_message([&] { write_safetensors(path, {{"", x.ref()}}); }).find("empty"),
            std::string::npos);
  TensorRef on_gpu = x.ref();
  on_gpu.device = DeviceKind::kCuda;
  EXPECT_NE(error_message([&] { write_safetensors(path, {{"g", on_gpu}}); })
                .find("tensor 'g' [2] fp32 (cuda) is not a CPU tensor"),
            std::string::npos);
  TensorRef dangling = TensorRef::cpu(nullptr, ScalarType::kFloat32, {4});
  EXPECT_NE(error_message([&] { write_safetensors(path, {{"d", dangling}}); })
                .find("null data pointer"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));

  const std::string unwritable = file("no_such_directory/out.safetensors");
  try {
    write_safetensors(unwritable, {{"x", x.ref()}});
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kIo);
    EXPECT_EQ(std::string(error.what()).rfind(unwritable + ": error: cannot create", 0), 0u)
        << error.what();
  }
  // Only what the earlier calls were asked to leave: nothing (no temporaries).
  EXPECT_TRUE(std::filesystem::is_empty(directory_));
}

TEST_F(SafetensorsTest, OverwritesAnExistingFileAtomically) {
  HostTensor small(ScalarType::kInt32, {1});
  HostTensor large(ScalarType::kFloat64, {64});
  const std::string path = file("replace.safetensors");
  write_safetensors(path, {{"large", large.ref()}});
  write_safetensors(path, {{"small", small.ref()}});
  EXPECT_EQ(read_safetensors(path).names(), std::vector<std::string>{"small"});
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(directory_),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(SafetensorsDtype, NamesMapBothWays) {
  for (ScalarType type : {ScalarType::kFloat16, ScalarType::kBFloat16, ScalarType::kFloat32,
                          ScalarType::kFloat64, ScalarType::kInt32, ScalarType::kInt64}) {
    EXPECT_EQ(parse_safetensors_dtype(safetensors_dtype_name(type)), type);
  }
  EXPECT_EQ(parse_safetensors_dtype("BOOL"), std::nullopt);
  EXPECT_EQ(parse_safetensors_dtype("f32"), std::nullopt);  // the format's names are upper case
}

}  // namespace
}  // namespace attncc
