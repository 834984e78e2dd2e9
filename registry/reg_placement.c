/*  reg_placement: see reg_placement.h. */
#include "reg_placement.h"

//  FNV-1a over the bytes of s, continuing from hash.
static uint64_t s_fnv1a(uint64_t hash, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        hash ^= *p;
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

//  splitmix64's finaliser: spreads FNV's weak low bits over the whole word.
static uint64_t s_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t reg_placement_score(const char *room_id, const char *node)
{
    uint64_t hash = s_fnv1a(0xcbf29ce484222325ULL, room_id);
    hash = s_fnv1a(hash ^ 0xff, node); //  separator: ("ab","c") != ("a","bc")
    return s_mix(hash);
}

int reg_placement_choose(const char *room_id, const char *const *nodes, size_t count)
{
    int best = -1;
    uint64_t best_score = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t score = reg_placement_score(room_id, nodes[i]);
        if (best < 0 || score > best_score) {
            best = (int)i;
            best_score = score;
        }
    }
    return best;
}
