# bash completion for cloudm(1) - installed as <datadir>/bash-completion/completions/cloudm.
#
# Completes subcommands, each subcommand's options, file and directory arguments, --mode
# values, and for `cloudm clear --function` the function names of the config the command would
# use (-c FILE on the line, else $CLOUDM_CONFIG, ./cloudm.conf,
# ${XDG_CONFIG_HOME:-~/.config}/cloudm/cloudm.conf, /etc/cloudm/cloudm.conf). After the
# PROGRAM of run/check/profile/probe it completes as for that program. It never runs cloudm.

# The config file named on the command line (-c FILE, -cFILE, --config FILE, --config=FILE),
# else the one cloudm would find.
_cloudm_config()
{
    local i w
    for ((i = 2; i < ${#words[@]} - 1; i++)); do
        w=${words[i]}
        case $w in
        -c | --config) printf '%s\n' "${words[i + 1]/#\~/$HOME}"; return ;;
        --config=*) printf '%s\n' "${w#--config=}"; return ;;
        -c?*) printf '%s\n' "${w#-c}"; return ;;
        esac
    done
    if [[ -n ${CLOUDM_CONFIG-} ]]; then
        printf '%s\n' "$CLOUDM_CONFIG"
    elif [[ -f cloudm.conf ]]; then
        printf '%s\n' cloudm.conf
    elif [[ -f ${XDG_CONFIG_HOME:-$HOME/.config}/cloudm/cloudm.conf ]]; then
        printf '%s\n' "${XDG_CONFIG_HOME:-$HOME/.config}/cloudm/cloudm.conf"
    else
        printf '%s\n' /etc/cloudm/cloudm.conf
    fi
}

# The NAMEs of the [function NAME] sections of a config file.
_cloudm_functions()
{
    local f
    f=$(_cloudm_config)
    [[ -r $f ]] || return
    sed -n 's/^[[:space:]]*\[[[:space:]]*[Ff][Uu][Nn][Cc][Tt][Ii][Oo][Nn][[:space:]]\{1,\}\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*\].*/\1/p' "$f"
}

_cloudm()
{
    local cur prev words cword split
    _init_completion -s || return

    local cmds="run check profile probe discover inspect stats clear doctor keycache agent help"
    if ((cword == 1)); then
        COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
        return
    fi
    local cmd=${words[1]} opts=""
    case $cmd in
    run) opts="-c --config --mode --report --report= --verify --verify= -h --help" ;;
    check) opts="-c --config -h --help" ;;
    profile) opts="-c --config --report --report= --html --reset -h --help" ;;
    discover) opts="-o --output --html --json --object --header -I --internal --top -h --help" ;;
    inspect) opts="--object --header -I --internal -h --help" ;;
    probe) opts="-c --config --calls --json -h --help" ;;
    stats) opts="-c --config --json --watch -h --help" ;;
    clear) opts="-c --config --function -h --help" ;;
    doctor) opts="-c --config -h --help" ;;
    keycache)
        opts="--init --listen --ready-file --data --store --max-size --expire --max-value --token-file
              --tls-cert --tls-key --threads --sweep-interval --idle-timeout --header-timeout
              --max-connections
              --max-per-ip --max-buffered --map-size -h --help"
        ;;
    agent) opts="-c --config --foreground --flush --status --stop -h --help" ;;
    help)
        ((cword == 2)) && COMPREPLY=($(compgen -W "${cmds% help}" -- "$cur"))
        return
        ;;
    *) return ;;
    esac

    # run, check, profile: the first word that is not an option (or what follows --) is the
    # program; from there on, complete as for that program.
    if [[ $cmd == run || $cmd == check || $cmd == profile || $cmd == probe || $cmd == discover ]]; then
        local i
        for ((i = 2; i < cword; i++)); do
            case ${words[i]} in
            --) _command_offset $((i + 1)); return ;;
            -c | --config | --mode | --calls | --json) ((i++)) ;;
            -*) ;;
            *) _command_offset $i; return ;;
            esac
        done
    fi

    case $prev in
    --report | --verify)
        # --report=FILE (split by _init_completion); bare --report and --verify take no value
        if [[ $split == true && $prev == --report ]]; then
            _filedir
            return
        fi
        ;;
    --json)
        # probe --json FILE; stats --json takes no value
        if [[ $cmd == probe ]]; then
            _filedir
            return
        fi
        ;;
    -c | --config | --ready-file | --token-file | --tls-cert | --tls-key)
        _filedir
        return
        ;;
    --data | --init)
        _filedir -d
        return
        ;;
    --mode)
        COMPREPLY=($(compgen -W "readwrite readonly writeonly off profile" -- "$cur"))
        return
        ;;
    --function)
        COMPREPLY=($(compgen -W "$(_cloudm_functions)" -- "$cur"))
        return
        ;;
    --listen | --store | --max-size | --expire | --max-value | --threads | --sweep-interval | \
        --idle-timeout | --header-timeout | --calls | --max-connections | --max-per-ip | --max-buffered | --map-size | --watch)
        return
        ;;
    esac
    case $cur in
    -*)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
        return
        ;;
    esac
    # run, check, profile, probe: a program
    if [[ $cmd == run || $cmd == check || $cmd == profile || $cmd == probe || $cmd == discover ]]; then
        COMPREPLY=($(compgen -c -- "$cur"))
        [[ $cur == */* || ${#COMPREPLY[@]} -eq 0 ]] && _filedir
    fi
} &&
    complete -F _cloudm cloudm
