# --help on every subcommand teaches usage; unknown commands and options get hints.
source "$(dirname "$0")/lib.sh"
expect_exit 0 -- "$attncc" --help
expect_contains "$out" "commands:" "overview"
for command in check explain; do
  expect_exit 0 -- "$attncc" "$command" --help
  expect_contains "$out" "usage: attncc $command" "$command --help"
  expect_contains "$out" "examples:" "$command --help"
done
expect_exit 1 -- "$attncc" chek specs/full.json
expect_contains "$err" "unknown command 'chek'; did you mean 'check'?" "typo in command"
expect_exit 1 -- "$attncc" explain "$source_dir/specs/causal.json" --lq 10 --tiles 16x16
expect_contains "$err" "unknown option '--tiles'; did you mean '--tile'?" "typo in option"
expect_exit 1 -- "$attncc" explain "$source_dir/specs/causal.json" --lq ten
expect_contains "$err" "--lq: error: expected a non-negative integer; got 'ten'" "bad number"
expect_exit 1 -- "$attncc"
finish
