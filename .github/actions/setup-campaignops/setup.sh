#!/usr/bin/env bash
# Reuse $CAMPAIGNOPS_VENV when the runner provides one, else create a venv and `pip install .`.
set -euo pipefail
if [[ -n "${CAMPAIGNOPS_VENV:-}" ]]; then
  if [[ ! -x "$CAMPAIGNOPS_VENV/bin/python" ]]; then
    echo "::error::CAMPAIGNOPS_VENV=$CAMPAIGNOPS_VENV has no bin/python: create it (python -m venv; pip install '.[lsst]') or unset it" >&2
    exit 1
  fi
  venv="$CAMPAIGNOPS_VENV"
  # Launch directories must outlive this checkout (actions/checkout cleans it): never under it.
  workdir="${WORKDIR:-${CAMPAIGNOPS_WORKDIR:-$HOME/campaignops-work}}"
  case "$(realpath -m "$workdir")/" in
    "$(realpath -m "$GITHUB_WORKSPACE")"/*)
      echo "::error::CAMPAIGNOPS_WORKDIR=$workdir is inside the checkout $GITHUB_WORKSPACE, which the next job cleans: set the repository variable CAMPAIGNOPS_WORKDIR to a directory outside it" >&2
      exit 1;;
  esac
  mkdir -p "$workdir"
  echo "CAMPAIGNOPS_WORKDIR=$workdir" >> "$GITHUB_ENV"
  echo "launch directories and locks in $workdir"
  # The reviewed code of this checkout wins over whatever version the shared venv has installed.
  echo "PYTHONPATH=$GITHUB_WORKSPACE/scripts${PYTHONPATH:+:$PYTHONPATH}" >> "$GITHUB_ENV"
else
  venv="$RUNNER_TEMP/campaignops-venv"
  python -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet ".${EXTRAS:+[$EXTRAS]}"
fi
echo "$venv/bin" >> "$GITHUB_PATH"
echo "VIRTUAL_ENV=$venv" >> "$GITHUB_ENV"
# Steps read git history: never wait on a pager.
echo "GIT_PAGER=cat" >> "$GITHUB_ENV"
"$venv/bin/python" -c 'import campaignops' || { echo "::error::campaignops is not importable from $venv" >&2; exit 1; }
