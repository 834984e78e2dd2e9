/*  reg_peers: see reg_peers.h. */
#include "reg_peers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int reg_peer_make(reg_peer_t *peer, uint64_t id, const char *address)
{
    memset(peer, 0, sizeof *peer);
    if (id == 0 || !address)
        return -1;
    if (strncmp(address, "tcp://", 6) == 0)
        address += 6;
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address || colon - address > 200)
        return -1;
    for (const char *p = address; p < colon; p++)
        if (isspace((unsigned char)*p) || *p == '/' || *p == '@' || *p == ',')
            return -1;
    peer->id = id;
    snprintf(peer->endpoint, sizeof peer->endpoint, "tcp://%s", address);
    char raft[CHAT_ENDPOINT_MAX];
    if (chat_endpoint_port_offset(peer->endpoint, 1, peer->pub_endpoint,
                                  sizeof peer->pub_endpoint) != 0 ||
        chat_endpoint_port_offset(address, 2, raft, sizeof raft) != 0)
        return -1;
    snprintf(peer->raft_address, sizeof peer->raft_address, "%s", raft);
    return 0;
}

int reg_peers_parse(const char *list, reg_peer_t *peers, const char **why)
{
    int count = 0;
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *end = p;
        while (*end && *end != ',' && !isspace((unsigned char)*end))
            end++;
        char entry[CHAT_ENDPOINT_MAX];
        if ((size_t)(end - p) >= sizeof entry) {
            *why = "an entry is too long";
            return -1;
        }
        memcpy(entry, p, (size_t)(end - p));
        entry[end - p] = '\0';
        p = end;
        if (count == REG_PEERS_MAX) {
            *why = "more than 9 registries";
            return -1;
        }
        char *at = strchr(entry, '@');
        char *stop = NULL;
        unsigned long long id = at ? strtoull(entry, &stop, 10) : 0;
        if (!at || stop != at || id == 0 || reg_peer_make(&peers[count], id, at + 1) != 0) {
            *why = "an entry is not ID@HOST:PORT (ID > 0)";
            return -1;
        }
        for (int i = 0; i < count; i++)
            if (peers[i].id == id) {
                *why = "an id appears twice";
                return -1;
            }
        count++;
    }
    return count;
}
