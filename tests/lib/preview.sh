# preview_conf.sh — a configuration for previews only, sourced by
# tests/e2e/preview.sh and tests/tools/preview-compare.sh: one practice
# (with date_order when given) and a folder the previewed files are not in
# (a configuration needs one), under $work.
#
#   preview_conf FILE [DATE_ORDER]
preview_conf() {
    {
        printf '[agent]\nstate_dir = %s/state\nlog_level = warn\n\n' "$work"
        printf '[cloud]\nurl = http://127.0.0.1:9\n\n[practice main]\ntoken_file = %s/token\n' "$work"
        [ $# -gt 1 ] && printf 'date_order = %s\n' "$2"
        printf '\n[folder f1]\npath = %s/in\npractice = main\nimport_type = auto\n' "$work"
    } >"$1"
    mkdir -p "$work/state" "$work/in"
    [ -e "$work/token" ] || { : >"$work/token" && chmod 600 "$work/token"; }
}
