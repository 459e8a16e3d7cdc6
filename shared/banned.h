/*
 * banned.h - turns unsafe C library calls into compile errors.
 *
 * Include it last in a .c file (after every system header, since the
 * macros would otherwise rewrite their declarations).  A banned call then
 * fails to compile with an error that names the function, e.g.
 * "'sorry_strcpy_is_banned' undeclared".  Use buf_*, snprintf, memcpy
 * with an explicit length, strtok_r instead.
 */
#ifndef CHAT_BANNED_H
#define CHAT_BANNED_H

#define BANNED(func) sorry_##func##_is_banned

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)

#undef sprintf
#undef vsprintf
#define sprintf(...) BANNED(sprintf)
#define vsprintf(...) BANNED(vsprintf)

#endif
