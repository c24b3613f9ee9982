# preview.sh — what tests/e2e/preview.sh and tests/tools/preview-compare.sh
# both preview, sourced by them.
#
#   preview_conf FILE [DATE_ORDER]
#       a configuration for previews only: one practice (with date_order
#       when given) and a folder the previewed files are not in (a
#       configuration needs one), under $work
#   preview_vote_files DIR
#       files whose later rows tell the date order: iso-then-dmy.csv (five
#       ISO rows, 03/04/1980, then 13/02/1990), iso-then-mdy.csv (the last
#       02/13/1990) and dmy-after-100.csv (03/04/1980, 149 ISO rows, then
#       13/02/1990 as row 151)
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

preview_vote_files() {
    {
        printf 'Patient ID,First Name,Last Name,Date of Birth,Email\n'
        for i in 1 2 3 4 5; do printf 'P%d,Ann,Isoone,1980-01-0%d,p%d@example.com\n' "$i" "$i" "$i"; done
        printf 'P6,Bob,Both,03/04/1980,p6@example.com\n'
        printf 'P7,Cid,Later,13/02/1990,p7@example.com\n'
    } >"$1/iso-then-dmy.csv"
    sed 's|13/02/1990|02/13/1990|' "$1/iso-then-dmy.csv" >"$1/iso-then-mdy.csv"
    {
        printf 'Patient ID,First Name,Last Name,Date of Birth,Email\n'
        printf 'P1,Bob,Both,03/04/1980,p1@example.com\n'
        i=2
        while [ $i -le 150 ]; do
            printf 'P%d,Ann,Isorow,1980-01-01,p%d@example.com\n' "$i" "$i"
            i=$((i + 1))
        done
        printf 'P151,Cid,Later,13/02/1990,p151@example.com\n'
    } >"$1/dmy-after-100.csv"
}
