/*
 * keys.h: the Redis key names and hash fields partyhub writes, as the C
 * side uses them. realtime/keys.py holds the same names for Python (and
 * says what each key holds); tests/test_keys.py fails when the two
 * disagree. A name is a prefix: the rest is given beside it.
 */
#ifndef PH_KEYS_H
#define PH_KEYS_H

/* channels groups (channels_redis stores "<prefix>:group:<name>") */
#define PH_GROUP_GAME "game_"                   /* + CODE */
#define PH_GROUP_PLAYER "player_"               /* + CODE "_" id */

/* per session, on the host of its group */
#define PH_KEY_SEQ "partyhub:seq:"              /* + CODE */
#define PH_KEY_SESSION "partyhub:session:"      /* + CODE (a hash) */
#define PH_KEY_STATE "partyhub:state:"          /* + CODE */
#define PH_KEY_STATE_SEQ "partyhub:stateseq:"   /* + CODE */

/* per player, on the host of the player's group */
#define PH_KEY_PSEQ "partyhub:pseq:"            /* + CODE ":" id */
#define PH_KEY_PRIVATE "partyhub:private:"      /* + CODE ":" id */
#define PH_KEY_PRIVATE_SEQ "partyhub:privateseq:" /* + CODE ":" id */
#define PH_KEY_REACT "partyhub:react:"          /* + CODE ":" id */

/* on every host: its keys were rebuilt from the database since it started */
#define PH_KEY_READY "partyhub:ready"           /* run_id ":" a random part */

/* the platform's HTTP limits */
#define PH_KEY_RATELIMIT "partyhub:ratelimit:"  /* + kind ":" address */
#define PH_KEY_LOGIN_USER "partyhub:login:user:" /* + digest */

/* fields of PH_KEY_SESSION's hash */
#define PH_FIELD_HOST "host"                    /* host token digest */
#define PH_FIELD_PLAYER "p:"                    /* + player token digest */
#define PH_FIELD_CLOSED "closed"                /* "1": the host exited */
#define PH_FIELD_VERSION "v"                    /* the session seq it was
                                                 * written at (RS_STORE_TOKENS) */

#endif /* PH_KEYS_H */
