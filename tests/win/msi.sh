#!/bin/sh
# msi.sh MSI — checks the Windows installer's tables with msiinfo: the
# program, the service (account, start type, delayed start, recovery), its
# start and removal, the data folder kept on uninstall, the silent
# install's properties and their hiding, the setup action, the Start-menu
# link, the calendar reader's time zones. Prints `ok - …` / `not ok - …` and `N passed, N failed`.
set -u
msi=$1
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
# rows TABLE COND: whether some row of TABLE (tab-separated, $1 its first
# column; msiinfo's CRLF taken off) meets the awk condition COND.
rows() {
    msiinfo export "$msi" "$1" 2>/dev/null | tr -d '\r' | tail -n +4 |
        awk -F '\t' "BEGIN { f = 0 } $2 { f = 1 } END { exit !f }"
}
# has TABLE DESC COND: some row meets COND; lacks: none does.
has() {
    if rows "$1" "$3"; then ok "$2"; else not_ok "$2"; fi
}
lacks() {
    if rows "$1" "$3"; then not_ok "$2"; else ok "$2"; fi
}

[ -s "$msi" ] || {
    not_ok "$msi exists"
    echo "$passed passed, $failed failed"
    exit 1
}
has File "File: dentsync.exe" '$3 == "dentsync.exe"'
has Directory "Directory: dentsync under ProgramFiles64Folder" \
    '$2 == "ProgramFiles64Folder" && $3 == "dentsync"'
has Directory "Directory: dentsync under CommonAppDataFolder" \
    '$2 == "CommonAppDataFolder" && $3 == "dentsync"'
has Directory "Directory: zoneinfo beside dentsync.exe" '$1 == "ZONEDIR" && $2 == "INSTALLDIR" && $3 == "zoneinfo"'
has File "File: the time zones' index, zones.tab" '$3 == "zones.tab"'
n=$(msiinfo export "$msi" File 2>/dev/null | tr -d '\r' | awk -F '\t' '$3 ~ /\.ics$/' | wc -l)
files=$(find "$(dirname "$msi")/zoneinfo" -name '*.ics' 2>/dev/null | wc -l)
if [ "$n" -gt 300 ] && [ "$n" = "$files" ]; then
    ok "File: every time zone of libical's zoneinfo ($n)"
else
    not_ok "File: every time zone of libical's zoneinfo ($n in the installer, $files built)"
fi
has CreateFolder "CreateFolder: the data folder" '$1 == "DATADIR"'
# msidbComponentAttributesPermanent (16): the data folder is never removed.
has Component "Component: the data folder is permanent" \
    '$3 == "DATADIR" && int($4 / 16) % 2 == 1'
lacks RemoveFile "RemoveFile: nothing under the data folder is removed" '$3 == "DATADIR"'
# ServiceType 16 own process, StartType 2 automatic, the virtual account.
has ServiceInstall "ServiceInstall: dentsync, own process, automatic, NT SERVICE\\dentsync" \
    '$2 == "dentsync" && $4 == 16 && $5 == 2 && $9 == "NT SERVICE\\dentsync"'
has ServiceInstall "ServiceInstall: runs run --service with the data folder's config" \
    'index($11, "run --service -c \"[DATADIR]dentsync.conf\"") == 1'
# Event bits: 1 start at install; 0x20 stop and 0x80 delete at uninstall.
has ServiceControl "ServiceControl: started at install" '$2 == "dentsync" && $3 % 2 == 1'
has ServiceControl "ServiceControl: stopped and removed at uninstall" \
    '$2 == "dentsync" && int($3 / 32) % 2 == 1 && int($3 / 128) % 2 == 1'
has MsiServiceConfig "MsiServiceConfig: delayed automatic start" \
    '$2 == "dentsync" && $4 == 3 && $5 == "1"'
has MsiServiceConfig "MsiServiceConfig: the service's own identifier in its token (unrestricted)" \
    '$2 == "dentsync" && $4 == 5 && $5 == "1"'
has MsiServiceConfigFailureActions "MsiServiceConfigFailureActions: restart after 10, 30, 60 s" \
    '$2 == "dentsync" && $7 == "1[~]1[~]1" && $8 == "10000[~]30000[~]60000"'
has InstallExecuteSequence "InstallExecuteSequence: MsiConfigureServices between install and start" \
    '$1 == "MsiConfigureServices" && $3 > 5800 && $3 < 5900'
for p in CLOUD_URL PRACTICE TOKEN EXPORT_FOLDER; do
    has Property "Property: $p is a secure property of the silent install" \
        "\$1 == \"SecureCustomProperties\" && index(\";\" \$2 \";\", \";$p;\") > 0"
done
has Property "Property: IMPORT_TYPE defaults to patients" '$1 == "IMPORT_TYPE" && $2 == "patients"'
has Property "Property: MsiHiddenProperties holds TOKEN" \
    '$1 == "MsiHiddenProperties" && index(";" $2 ";", ";TOKEN;") > 0'
lacks Property "Property: no TOKEN value is built in" '$1 == "TOKEN"'
# Type 18 (an installed exe) + 0x400 deferred + 0x800 no impersonation +
# 0x2000 hidden target = 11282.
has CustomAction "CustomAction: setup runs deferred as LocalSystem, its target hidden" \
    '$1 == "WriteConfig" && $2 == 11282 && $3 == "DentsyncExe" && index($4, "setup ") == 1 && index($4, "[TOKEN]") > 0'
has InstallExecuteSequence "InstallExecuteSequence: setup after InstallFiles, before StartServices, not on removal" \
    '$1 == "WriteConfig" && $3 > 4000 && $3 < 5900 && index($2, "NOT REMOVE") > 0'
has Shortcut "Shortcut: the status page (web-url --open)" \
    '$5 == "[INSTALLDIR]dentsync.exe" && index($6, "web-url --open") == 1'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
