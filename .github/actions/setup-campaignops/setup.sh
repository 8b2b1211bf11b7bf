#!/usr/bin/env bash
# Reuse $CAMPAIGNOPS_VENV when the runner provides one, else create a venv and install campaignops: this checkout
# (`pip install .`) in the campaignops repository itself, the requirement of requirements.txt in a control
# repository made by `campaign init`.
set -euo pipefail
if [[ -n "${CAMPAIGNOPS_VENV:-}" ]]; then
  if [[ ! -x "$CAMPAIGNOPS_VENV/bin/python" ]]; then
    echo "::error::CAMPAIGNOPS_VENV=$CAMPAIGNOPS_VENV has no bin/python: create it (python3.12 -m venv \$CAMPAIGNOPS_VENV, then pip install 'campaignops[lsst] …' as requirements.txt names it; README, set-up step 4) or unset it" >&2
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
  # The reviewed code of this checkout (campaignops itself) wins over whatever version the shared venv has installed.
  if [[ -d "$GITHUB_WORKSPACE/scripts/campaignops" ]]; then
    echo "PYTHONPATH=$GITHUB_WORKSPACE/scripts${PYTHONPATH:+:$PYTHONPATH}" >> "$GITHUB_ENV"
  fi
else
  venv="$RUNNER_TEMP/campaignops-venv"
  python -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  if [[ -f pyproject.toml ]]; then
    "$venv/bin/python" -m pip install --quiet ".${EXTRAS:+[$EXTRAS]}"
  elif [[ -f requirements.txt ]]; then
    "$venv/bin/python" -m pip install --quiet -r requirements.txt
  else
    echo "::error::neither pyproject.toml (campaignops itself) nor requirements.txt (a control repository) here: add requirements.txt naming campaignops (campaign init writes it)" >&2
    exit 1
  fi
fi
echo "$venv/bin" >> "$GITHUB_PATH"
echo "VIRTUAL_ENV=$venv" >> "$GITHUB_ENV"
# Steps read git history: never wait on a pager.
echo "GIT_PAGER=cat" >> "$GITHUB_ENV"
"$venv/bin/python" -c 'import campaignops' || { echo "::error::campaignops is not importable from $venv" >&2; exit 1; }
