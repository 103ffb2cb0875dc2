#!/bin/sh
# sudo inside the sandbox. A SageMaker container runs as root, so programs written for containers call
# sudo (SDK v3's remote-function bootstrap runs 'sudo chmod -R 777 /opt/ml/input /opt/ml/output
# /opt/ml/model /tmp' when its user is not root). The sandbox never gives root: this runs the command
# as the job's own user, who owns every folder a job may write (/opt/ml, /tmp), so what such programs
# use sudo for works. It takes sudo's usual leading options and ignores them; -u naming another user
# is refused, since no other user can be become.
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -u|--user)
      case "$2" in
        root|0|"$(id -un)"|"$(id -u)") shift 2 ;;
        *) echo "sudo: the local cloud's sandbox runs everything as its one user; cannot become '$2'" >&2; exit 1 ;;
      esac ;;
    -g|--group|-p|--prompt|-C|--close-from|-h|--host|-D|--chdir|-r|--role|-t|--type|-T|--command-timeout) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "usage: sudo COMMAND [ARGUMENT...] (the sandbox runs it as its own user)" >&2
  exit 1
fi
exec "$@"
