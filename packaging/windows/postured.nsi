; postured for Windows: the installer (issue 9). Built on Linux with Debian's nsis:
;   makensis -DBINDIR=build-windows/bin -DVERSION=0.1.0 -DOUTFILE=postured-0.1.0-setup.exe packaging/windows/postured.nsi
; packaging/windows/README.md has the silent-install flags and what was tested under Wine.
;
; Installs postured.exe and posturectl.exe to %ProgramFiles%\postured, the configuration to
; %ProgramData%\postured (SYSTEM and Administrators only, inheritance cut), and registers the
; `postured` service (postured.exe --install-service: LocalSystem, automatic start, restart on
; failure). The uninstaller removes the service and the programs and keeps %ProgramData%\postured
; (the configuration, the sealed master key and the spool), as `dpkg -r` does; with /PURGE it
; deletes that too, and with it every cache the agent encrypted becomes unreadable.

Unicode true
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel admin
ShowInstDetails show
ShowUninstDetails show

!include "LogicLib.nsh"
!include "FileFunc.nsh"
!include "x64.nsh"
!include "StrFunc.nsh"
${StrStr}

!ifndef VERSION
  !define VERSION "0.1.0"
!endif
!ifndef BINDIR
  !error "give the folder with postured.exe and posturectl.exe: makensis -DBINDIR=<folder> ..."
!endif
!ifndef OUTFILE
  !define OUTFILE "postured-${VERSION}-setup.exe"
!endif
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\postured"
; icacls grants by SID so that it works in every language: SYSTEM, Administrators.
!define DATA_ACL '/inheritance:r /grant:r *S-1-5-18:(OI)(CI)F /grant:r *S-1-5-32-544:(OI)(CI)F'

Name "postured ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\postured"
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "postured"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "postured posture agent installer"
VIAddVersionKey "LegalCopyright" "the postured authors"

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

Var DataDir
Var ConfigSource
Var TokenSource
Var CaSource
Var NoService

; Runs a command, logs its output, and aborts the installation when it fails.
!macro RunOrAbort command what
  nsExec::ExecToLog '${command}'
  Pop $0
  ${If} $0 != 0
    DetailPrint "${what} failed (exit $0)"
    SetErrorLevel 3
    Abort "${what} failed (exit $0)"
  ${EndIf}
!macroend

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "postured needs 64-bit Windows." /SD IDOK
    SetErrorLevel 2
    Quit
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
  StrCpy $DataDir "$APPDATA\postured"  ; C:\ProgramData under SetShellVarContext all
  ; /CONFIG=FILE /TOKEN=FILE /CA=FILE /NOSERVICE (besides NSIS's own /S and /D=DIR)
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/CONFIG=" $ConfigSource
  ClearErrors
  ${GetOptions} $R0 "/TOKEN=" $TokenSource
  ClearErrors
  ${GetOptions} $R0 "/CA=" $CaSource
  ClearErrors
  ${GetOptions} $R0 "/NOSERVICE" $R1
  ${IfNot} ${Errors}
    StrCpy $NoService 1
  ${EndIf}
  ${If} $ConfigSource != ""
  ${AndIfNot} ${FileExists} $ConfigSource
    MessageBox MB_ICONSTOP "/CONFIG=$ConfigSource: no such file" /SD IDOK
    SetErrorLevel 2
    Quit
  ${EndIf}
  ${If} $TokenSource != ""
  ${AndIfNot} ${FileExists} $TokenSource
    MessageBox MB_ICONSTOP "/TOKEN=$TokenSource: no such file" /SD IDOK
    SetErrorLevel 2
    Quit
  ${EndIf}
  ${If} $CaSource != ""
  ${AndIfNot} ${FileExists} $CaSource
    MessageBox MB_ICONSTOP "/CA=$CaSource: no such file" /SD IDOK
    SetErrorLevel 2
    Quit
  ${EndIf}
FunctionEnd

Section "postured"
  SetOutPath "$INSTDIR"
  ; An upgrade replaces the programs of a registered service: stop it first (an absent one is fine).
  ${If} ${FileExists} "$INSTDIR\postured.exe"
    nsExec::ExecToLog 'net stop postured'
    Pop $0
  ${EndIf}
  File "${BINDIR}\postured.exe"
  File "${BINDIR}\posturectl.exe"
  ; The hardening policy the default configuration runs; replaced on upgrade (local policies belong
  ; in %ProgramData%\postured, which an upgrade keeps).
  SetOutPath "$INSTDIR\policies"
  File "..\..\config\policies\windows-hardening.toml"
  File "..\..\config\policies\windows-hardening.md"
  SetOutPath "$INSTDIR"

  ; The data folder first gets its ACL, then its contents, so nothing in it is ever readable by users.
  CreateDirectory "$DataDir"
  !insertmacro RunOrAbort 'icacls "$DataDir" ${DATA_ACL}' "setting the ACL of $DataDir"
  ${If} $ConfigSource != ""
    CopyFiles /SILENT "$ConfigSource" "$DataDir\postured.toml"
  ${ElseIfNot} ${FileExists} "$DataDir\postured.toml"
    SetOutPath "$DataDir"
    File "postured.toml"
    SetOutPath "$INSTDIR"
  ${EndIf}
  ${If} $TokenSource != ""
    CopyFiles /SILENT "$TokenSource" "$DataDir\enroll-token"
  ${EndIf}
  ${If} $CaSource != ""
    CopyFiles /SILENT "$CaSource" "$DataDir\console-ca.pem"
  ${EndIf}
  ; Files copied in inherit the folder's ACL only when made there; reset them to it.
  !insertmacro RunOrAbort 'icacls "$DataDir\*" /reset /T /C /Q' "resetting the ACLs below $DataDir"

  !insertmacro RunOrAbort '"$INSTDIR\postured.exe" --check-config --config "$DataDir\postured.toml"' \
    "checking $DataDir\postured.toml"

  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "postured ${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "postured"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1

  ${If} $NoService != 1
    ; Already registered (an upgrade): the registration names the same program and config.
    nsExec::ExecToLog 'sc query postured'
    Pop $0
    ${If} $0 != 0
      !insertmacro RunOrAbort '"$INSTDIR\postured.exe" --install-service --config "$DataDir\postured.toml"' \
        "registering the postured service"
    ${EndIf}
    ; Started, and waited for (up to 30 s): the service manager may be busy starting other services
    ; (a booting Windows, a fresh Wine prefix) and refuse with "database locked"; asked again every 5 s.
    StrCpy $1 0
    ${Do}
      ${If} $1 == 0
      ${OrIf} $1 == 5
      ${OrIf} $1 == 10
      ${OrIf} $1 == 20
        nsExec::ExecToLog 'net start postured'
        Pop $0
      ${EndIf}
      Sleep 1000
      nsExec::ExecToStack 'sc query postured'
      Pop $0
      Pop $2
      ${StrStr} $3 $2 "RUNNING"
      ${If} $3 != ""
        ${Break}
      ${EndIf}
      IntOp $1 $1 + 1
      ${If} $1 >= 30
        DetailPrint "the postured service did not start within 30 s; see the event log and posturectl status"
        ${Break}
      ${EndIf}
    ${Loop}
  ${EndIf}
SectionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
  StrCpy $DataDir "$APPDATA\postured"  ; C:\ProgramData under SetShellVarContext all
FunctionEnd

Section "Uninstall"
  ; Stops the service (up to 30 s) and deletes it; a service that is not there is no error.
  nsExec::ExecToLog '"$INSTDIR\postured.exe" --uninstall-service'
  Pop $0
  Delete "$INSTDIR\postured.exe"
  Delete "$INSTDIR\posturectl.exe"
  Delete "$INSTDIR\uninstall.exe"
  Delete "$INSTDIR\policies\windows-hardening.toml"
  Delete "$INSTDIR\policies\windows-hardening.md"
  RMDir "$INSTDIR\policies"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
  ${un.GetParameters} $R0
  ClearErrors
  ${un.GetOptions} $R0 "/PURGE" $R1
  ${IfNot} ${Errors}
    ; Like dpkg --purge: configuration and state go, the DPAPI-sealed master key with them.
    RMDir /r "$DataDir"
  ${EndIf}
SectionEnd
