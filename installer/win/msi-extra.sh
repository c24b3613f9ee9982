#!/bin/sh
# msi-extra.sh MSI — what wixl (msitools 0.101) cannot say in the .wxs,
# added to the built package with msibuild's SQL:
#
#   - the service's delayed automatic start (MsiServiceConfig, type 3) and
#     its recovery: restart after 10 s, 30 s, then 60 s, the count reset
#     after a day, a failed start counted as a failure
#     (MsiServiceConfigFailureActions; MsiServiceConfig type 4), applied by
#     the MsiConfigureServices action between InstallServices and
#     StartServices (Windows Installer 5);
#   - the service's own identifier in its token whatever account it runs
#     as (MsiServiceConfig type 5, SERVICE_SID_TYPE_UNRESTRICTED): the
#     agent's private files grant NT SERVICE\dentsync;
#   - HideTarget on the WriteConfig action, whose command line holds the
#     token (wixl drops the attribute);
#   - Permanent on the data folder's component (wixl has no attribute for
#     it): %ProgramData%\dentsync is never removed;
#   - the silent install's answers in SecureCustomProperties, so that they
#     reach the installation's server side in a managed install.
set -eu
msi=$1

msibuild "$msi" -q "UPDATE \`CustomAction\` SET \`Type\` = 11282 WHERE \`Action\` = 'WriteConfig'"
msibuild "$msi" -q "UPDATE \`Component\` SET \`Attributes\` = 272 WHERE \`Component\` = 'DataDir'"
msibuild "$msi" -q "UPDATE \`Property\` SET \`Value\` = 'WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;CLOUD_URL;PRACTICE;TOKEN;EXPORT_FOLDER;IMPORT_TYPE' WHERE \`Property\` = 'SecureCustomProperties'"

msibuild "$msi" -q "CREATE TABLE \`MsiServiceConfig\` (\`MsiServiceConfig\` CHAR(72) NOT NULL, \`Name\` CHAR(255) NOT NULL, \`Event\` SHORT NOT NULL, \`ConfigType\` LONG NOT NULL, \`Argument\` CHAR(0), \`Component_\` CHAR(72) NOT NULL PRIMARY KEY \`MsiServiceConfig\`)"
# Event 1: at install. Type 3: SERVICE_CONFIG_DELAYED_AUTO_START_INFO;
# 4: SERVICE_CONFIG_FAILURE_ACTIONS_FLAG (a start that fails counts).
msibuild "$msi" -q "INSERT INTO \`MsiServiceConfig\` (\`MsiServiceConfig\`, \`Name\`, \`Event\`, \`ConfigType\`, \`Argument\`, \`Component_\`) VALUES ('DelayedStart', 'dentsync', 1, 3, '1', 'Agent')"
msibuild "$msi" -q "INSERT INTO \`MsiServiceConfig\` (\`MsiServiceConfig\`, \`Name\`, \`Event\`, \`ConfigType\`, \`Argument\`, \`Component_\`) VALUES ('FailedStartCounts', 'dentsync', 1, 4, '1', 'Agent')"
# 5: SERVICE_CONFIG_SERVICE_SID_INFO, 1: SERVICE_SID_TYPE_UNRESTRICTED.
msibuild "$msi" -q "INSERT INTO \`MsiServiceConfig\` (\`MsiServiceConfig\`, \`Name\`, \`Event\`, \`ConfigType\`, \`Argument\`, \`Component_\`) VALUES ('ServiceSid', 'dentsync', 1, 5, '1', 'Agent')"

msibuild "$msi" -q "CREATE TABLE \`MsiServiceConfigFailureActions\` (\`MsiServiceConfigFailureActions\` CHAR(72) NOT NULL, \`Name\` CHAR(255) NOT NULL, \`Event\` SHORT NOT NULL, \`ResetPeriod\` LONG, \`RebootMessage\` CHAR(255), \`Command\` CHAR(255), \`Actions\` CHAR(0), \`DelayActions\` CHAR(0), \`Component_\` CHAR(72) NOT NULL PRIMARY KEY \`MsiServiceConfigFailureActions\`)"
# Actions 1: SC_ACTION_RESTART, each after its delay in milliseconds.
msibuild "$msi" -q "INSERT INTO \`MsiServiceConfigFailureActions\` (\`MsiServiceConfigFailureActions\`, \`Name\`, \`Event\`, \`ResetPeriod\`, \`Actions\`, \`DelayActions\`, \`Component_\`) VALUES ('Recovery', 'dentsync', 1, 86400, '1[~]1[~]1', '10000[~]30000[~]60000', 'Agent')"

msibuild "$msi" -q "INSERT INTO \`InstallExecuteSequence\` (\`Action\`, \`Condition\`, \`Sequence\`) VALUES ('MsiConfigureServices', 'VersionNT >= 600', 5850)"
